"""rich progress rendering for CLI commands; library code reports through plain callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator:
    """Yield ``update(completed, total=None, **fields)`` drawing a rich bar with rate and ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(description, total=total, info="")

        def update(completed: int, total: int | None = None, info: str = "") -> None:
            progress.update(task, completed=completed, total=total, info=info)

        yield update
