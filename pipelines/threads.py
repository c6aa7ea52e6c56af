"""Threads joined by bounded queues, with one stop event and errors that reach the caller.

Every blocking put/get waits in short slices and gives up once the stop event is set, so no stage can hang
the pipeline: a failing stage records its exception and sets the event, every other stage then unwinds, and
the caller re-raises the first error (supervision's ``process_video`` hung forever in exactly this case).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from vidfsr.errors import PipelineError, VidfsrError

END = object()  # end-of-stream marker passed down the queues
_SLICE = 0.05


def stage_error(stage: str, exc: BaseException) -> BaseException:
    """The error to raise in the caller for ``exc`` raised in ``stage``: vidfsr's own errors keep their type (so
    ``except StreamError`` works whichever thread failed), others become a PipelineError; both name the stage."""
    message = f"the {stage} stage failed: {exc}"
    if isinstance(exc, VidfsrError):
        try:
            return type(exc)(message)
        except TypeError:  # a subclass with another signature
            return PipelineError(message)
    return PipelineError(message)


class Stopped(Exception):
    """Raised inside a stage when the pipeline is stopping; ends the stage quietly."""


class Stages:
    """Owns the stop event, the worker threads and the first error."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.error: BaseException | None = None
        self.error_stage = ""
        self._lock = threading.Lock()

    def fail(self, stage: str, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error, self.error_stage = exc, stage
        self.stop.set()

    def spawn(self, name: str, fn: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except Stopped:
                pass
            except BaseException as exc:  # re-raised in the caller by check()
                self.fail(name, exc)

        thread = threading.Thread(target=run, name=f"vidfsr-{name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def put(self, q: queue.Queue, item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                q.put(item, timeout=_SLICE)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue, timeout: float | None = None) -> Any:
        """Next item; raises ``queue.Empty`` after ``timeout`` seconds (None: wait until stopped)."""
        waited = 0.0
        while True:
            self.check()
            if self.stop.is_set():
                raise Stopped
            try:
                return q.get(timeout=_SLICE)
            except queue.Empty:
                waited += _SLICE
                if timeout is not None and waited >= timeout:
                    raise

    def check(self) -> None:
        """Re-raise a worker's error in the calling thread."""
        if self.error is not None:
            raise stage_error(self.error_stage, self.error) from self.error

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop every stage and wait at most ``timeout`` seconds in all: every stop path (an error, Ctrl-C,
        SIGTERM) ends within a second. A stage stuck in a blocking call (a frozen camera's socket read) is a
        daemon thread, left to end with its call instead of holding up the caller."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(deadline - time.monotonic(), 0.0))
