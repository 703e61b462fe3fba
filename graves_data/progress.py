"""The progress bars of every long command, with one set of columns for each kind of count.

rich is imported when a bar is shown, not before: a command run with `--quiet` (or a worker
process) never loads it.
"""

from __future__ import annotations

from typing import Any


def count_columns(title: str, *extra: Any) -> tuple[Any, ...]:
    """Columns of a bar counting things (units, forms, steps): title, bar, m/n, `extra`
    (the trainer's loss and rate), elapsed and remaining time."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def byte_columns() -> tuple[Any, ...]:
    """Columns of a bar counting bytes of a transfer: name, bar, bytes, rate, remaining."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )


class CountBar:
    """One counting bar on the terminal, or nothing when `enabled` is False."""

    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self._bar: Any = None
        if enabled:
            from rich.progress import Progress

            self._bar = Progress(*count_columns("{task.description}"), transient=False)
            self._task = self._bar.add_task(description, total=total)
            self._bar.start()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
