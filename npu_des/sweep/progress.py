"""The sweep's progress bar: points done / total and ETA on stderr, silent when not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(total: int, completed: int, quiet: bool) -> Iterator[Callable[[], None]]:
    """Yields `advance()`, to call once per finished point; points already done count from the start."""
    console = Console(stderr=True)
    progress = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("points"),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                        disable=quiet or not console.is_terminal)
    with progress:
        task = progress.add_task("sweep", total=total, completed=completed)
        yield lambda: progress.advance(task)
