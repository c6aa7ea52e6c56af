"""Live RTSP input that never builds a backlog, and survives cameras that die or freeze.

A reader thread decodes the stream (TCP, low-latency probing, slice threading: frame threading adds ~2 frames of
latency) and keeps only the newest few frames (3 by default: ~0.1 s of video), so the consumer never falls further
behind than that; the frames it never saw are counted as skipped. PyAV quirks handled here: a killed server ends
the demux loop *without* an exception, and a frozen one blocks forever unless the ``timeout`` option is set (it
fires after about twice its value), so both are treated as a lost connection and the reader reconnects with
exponential backoff. Frames are re-stamped with the wall clock (1/90000 s), so a recording made from a stream that
reconnected stays monotonic.
Credentials in URLs never reach a log line or an error message.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import cv2
import numpy as np

from vidfsr.errors import StreamError

from .qp import QP_CODECS, frame_qp
from .types import Frame
from .video import VideoInfo, rotate, to_bgr

logger = logging.getLogger(__name__)

LIVE_TIME_BASE = Fraction(1, 90000)


def mask_url(url: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://user:***@host/x`` (and ``rtsp://token@host`` -> ``***@``)."""
    return re.sub(r"(?<=://)([^:/@]+)(:[^@/]*)?@", lambda m: f"{m.group(1)}:***@" if m.group(2) else "***@", url)


def is_live(source: str) -> bool:
    return source.split("://", 1)[0].lower() in ("rtsp", "rtsps", "rtmp", "srt", "udp", "tcp", "http", "https")


@dataclass(frozen=True)
class LiveConfig:
    """Attributes:
    open_timeout: seconds the first connection may take before the source is declared unreachable.
    read_timeout: seconds without data before the connection is declared lost (PyAV fires after ~2x the
        socket timeout, so half of this is passed to FFmpeg).
    backoff_initial, backoff_max: reconnect delays, doubling from the first to the second.
    max_reconnects: give up after this many failed reconnects in a row (-1: never).
    transport: ``tcp`` (reliable through NAT and lossy links) or ``udp``.
    buffer_frames: decoded frames kept while the consumer is busy; beyond that the oldest is dropped. One
        frame (pure newest-wins) dropped a quarter of a camera's frames even when vidfsr kept up on average,
        because detection takes longer on some frames than others; three absorb that and still bound latency.
    """

    open_timeout: float = 10.0
    read_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    max_reconnects: int = -1
    transport: str = "tcp"
    buffer_frames: int = 3


@dataclass(frozen=True)
class LiveStatus:
    """What a caller can show about a live source."""

    state: str  # connecting | streaming | reconnecting | stopped | failed
    url: str  # masked
    connects: int
    reconnects: int
    frames_decoded: int
    frames_delivered: int
    frames_skipped: int
    last_error: str
    corrupt_packets: int = 0


class RtspSource:
    """Newest-frame-wins live source. Iterate it for :class:`Frame` objects; ``close()`` to stop."""

    def __init__(self, url: str, config: LiveConfig | None = None) -> None:
        self.url = url
        self.config = config or LiveConfig()
        self._lock = threading.Condition()
        self._buffer: collections.deque[Frame] = collections.deque()
        self._stop = threading.Event()
        self._status = LiveStatus("connecting", mask_url(url), 0, 0, 0, 0, 0, "")
        self._status_lock = threading.Lock()  # the reader and the consumer both update the counters
        self._size: tuple[int, int] | None = None
        self._t0 = time.monotonic()
        self._container: av.container.InputContainer | None = None
        self._codec = "live"  # the decoder's name once connected
        self.keyframe_qp: float | None = None  # the first keyframe's mean QP, H.264 only (``pipelines.qp``)
        self._thread = threading.Thread(target=self._reader, name="vidfsr-rtsp", daemon=True)
        self._thread.start()
        first = self._wait_frame(self.config.open_timeout)
        if first is None:
            self.close()
            reason = self._status.last_error or "no answer"
            raise StreamError(
                f"{mask_url(url)}: no video within {self.config.open_timeout:g} s ({reason}); "
                "check the address and that the camera is up"
            )
        h, w = first.image.shape[:2]
        self.info = VideoInfo(w, h, None, LIVE_TIME_BASE, 0, None, 0, self._codec, "bgr24", False)

    # ------------------------------------------------------------------------------------------ reader

    def _set(self, **changes: object) -> None:
        with self._status_lock:
            self._status = replace(self._status, **changes)

    def _bump(self, **increments: int) -> None:
        """Add to counters atomically (a read-modify-write from two threads lost counts)."""
        with self._status_lock:
            self._status = replace(self._status, **{k: getattr(self._status, k) + v for k, v in increments.items()})

    def _options(self) -> dict[str, str]:
        socket_timeout = int(self.config.read_timeout / 2 * 1_000_000)  # fires after ~2x: see module doc
        return {
            "rtsp_transport": self.config.transport,
            "timeout": str(socket_timeout),
            # No "fflags nobuffer": with it, a camera that sends its parameter sets only with sparse key
            # frames (and B-frames) decoded nothing at all; the small probe below keeps start-up fast anyway.
            "flags": "low_delay",
            "probesize": "32768",
            "analyzeduration": "500000",
        }

    def _reader(self) -> None:
        delay = self.config.backoff_initial
        failures = 0
        while not self._stop.is_set():
            try:
                self._read_once()
                failures = 0
                delay = self.config.backoff_initial
                if not self._stop.is_set():
                    self._set(last_error="stream ended")  # a killed server ends demux with no exception
            except (av.error.FFmpegError, OSError) as exc:
                failures += 1
                self._set(last_error=mask_url(str(exc)))
            if self._stop.is_set():
                break
            if self.config.max_reconnects >= 0 and failures > self.config.max_reconnects:
                self._set(state="failed")
                with self._lock:
                    self._lock.notify_all()
                return
            self._set(state="reconnecting")
            self._bump(reconnects=1)
            logger.warning("%s: connection lost (%s); reconnecting in %.1f s", mask_url(self.url),
                           self._status.last_error, delay)  # fmt: skip
            self._stop.wait(delay)
            delay = min(delay * 2, self.config.backoff_max)
        self._set(state="stopped")

    def _read_once(self) -> None:
        container = av.open(self.url, "r", options=self._options())
        self._container = container
        try:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            self._codec = stream.codec_context.name
            if self._codec in QP_CODECS:
                # How coarsely the camera quantises sets the blend stage's shares, as for a file.
                stream.codec_context.options = {"export_side_data": "venc_params"}
            self._set(state="streaming")
            self._bump(connects=1)
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    self._bump(corrupt_packets=1)
                    continue
                for frame in frames:
                    if self.keyframe_qp is None and frame.key_frame and self._codec in QP_CODECS:
                        self.keyframe_qp = frame_qp(frame)
                    self._publish(rotate(to_bgr(frame), round(frame.rotation or 0)))
        finally:
            self._container = None
            container.close()

    def _publish(self, image: np.ndarray) -> None:
        if self._size is None:
            self._size = (image.shape[1], image.shape[0])
        elif (image.shape[1], image.shape[0]) != self._size:
            # After a reconnect the camera may send another size; downstream stages keep the first one.
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        now = time.monotonic()
        pts = round((now - self._t0) / LIVE_TIME_BASE)
        with self._lock:
            dropped = 0
            if len(self._buffer) >= max(self.config.buffer_frames, 1):
                self._buffer.popleft()
                dropped = 1
            self._buffer.append(Frame(-1, image, pts, LIVE_TIME_BASE, mask_url(self.url), received=now))
            self._bump(frames_decoded=1, frames_skipped=dropped)
            self._lock.notify_all()

    # ------------------------------------------------------------------------------------------ consumer

    def _wait_frame(self, timeout: float | None) -> Frame | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not self._buffer:
                if self._stop.is_set() or self._status.state == "failed":
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._lock.wait(0.1 if remaining is None else min(remaining, 0.1))
            return self._buffer.popleft()

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        last_pts = -1
        while not self._stop.is_set():
            frame = self._wait_frame(None)
            if frame is None:
                if self._status.state == "failed":
                    raise StreamError(f"{mask_url(self.url)}: gave up after {self._status.reconnects} reconnects "
                                      f"({self._status.last_error})")  # fmt: skip
                return
            pts = max(frame.pts or 0, last_pts + 1)
            last_pts = pts
            self._bump(frames_delivered=1)
            yield Frame(index, frame.image, pts, frame.time_base, frame.source, frame.received)
            index += 1

    @property
    def status(self) -> LiveStatus:
        return self._status

    @property
    def frames_read(self) -> int:
        return self._status.frames_delivered

    @property
    def corrupt_packets(self) -> int:
        return self._status.corrupt_packets

    def interrupt(self) -> None:
        """Stop delivering frames now: a consumer waiting for the next frame gets the end of the stream."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()

    def close(self) -> None:
        self.interrupt()
        # At most half a second: during a camera outage the reader sits in a socket read for up to the read timeout;
        # it is a daemon thread that sees the stop flag when the read returns, and holds nothing the caller needs.
        self._thread.join(timeout=0.5)

    def __enter__(self) -> RtspSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
