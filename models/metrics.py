"""What a run records as it trains: `metrics.csv` (long format), TensorBoard events, progress."""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from graves_data.models.distributed import Distributed, all_reduce_sums
from graves_data.models.tasks import Sums

METRICS = "metrics.csv"
TENSORBOARD = "tb"


class MetricsLog:
    """metrics.csv (step, split, name, value) and TensorBoard scalars, on process 0 only."""

    FIELDS = ("step", "split", "name", "value")

    def __init__(self, run: Path, enabled: bool, tensorboard: bool, resume_step: int) -> None:
        self.enabled = enabled
        self.path = run / METRICS
        self.writer: Any = None
        if not enabled:
            return
        self._keep_rows_until(resume_step)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(
                str(run / TENSORBOARD), purge_step=resume_step + 1 if resume_step else None
            )

    def _keep_rows_until(self, step: int) -> None:
        """Start the CSV afresh, or keep the rows a resumed run had written up to its checkpoint."""
        rows: list[dict[str, str]] = []
        if step and self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for name, value in metrics.items():
                writer.writerow([step, split, name, repr(float(value))])
        if self.writer is not None:
            for name, value in metrics.items():
                self.writer.add_scalar(f"{split}/{name}", float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(run: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.csv, values as floats."""
    with (Path(run) / METRICS).open(newline="", encoding="utf-8") as handle:
        return [
            {
                "step": int(r["step"]),
                "split": r["split"],
                "name": r["name"],
                "value": float(r["value"]),
            }
            for r in csv.DictReader(handle)
        ]


class Window:
    """Sums of the steps since the last log line, kept on the device until read."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.started = time.perf_counter()

    def add(self, sums: Sums) -> None:
        for name, value in sums.items():
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()

    def flush(self, info: Distributed) -> tuple[dict[str, float], float]:
        totals = all_reduce_sums(self.sums, info)
        elapsed = time.perf_counter() - self.started
        self.sums, self.started = {}, time.perf_counter()
        return totals, elapsed


class ProgressBar:
    """A rich progress bar with the loss and the throughput."""

    def __init__(self, total: int, done: int, unit: str, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} " + unit + "/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not enabled,
        )
        self.loss = self.rate = "-"
        self.task = self.progress.add_task("train", total=total, completed=done, loss="-", rate="-")

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, loss: float | None = None, rate: float | None = None) -> None:
        if loss is not None:
            self.loss = f"{loss:.3f}"
        if rate is not None:
            self.rate = f"{rate:,.0f}"
        self.progress.update(self.task, advance=1, loss=self.loss, rate=self.rate)
