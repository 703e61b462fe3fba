"""The figures of docs/results.md from run folders: learning curves (PNG) and a JSON summary.

    python tools/results.py --runs runs --png docs/results-curves.png --json runs/results.json

For each run folder under --runs that holds a metrics.csv: the training NLL per point by step
(every logged window) and the validation NLL per point where it was measured, one panel per
network; and per run its step, points seen, wall time (summed over sessions from the training
rows' throughput), and the last figures of summary.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from graves_data.models.config import RunConfig
from graves_data.models.metrics import read_metrics
from graves_data.models.train import SUMMARY
from graves_data.schema import strict_json


def run_table(run: Path) -> dict[str, Any]:
    rows = read_metrics(run)
    train = [r for r in rows if r["split"] == "train"]
    by_name: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        by_name.setdefault(f"{row['split']}/{row['name']}", []).append((row["step"], row["value"]))
    points = sum(r["value"] for r in train if r["name"] == "points")
    rates = {r["step"]: r["value"] for r in train if r["name"] == "points_per_s"}
    counts = {r["step"]: r["value"] for r in train if r["name"] == "points"}
    seconds = sum(counts[s] / rates[s] for s in counts if rates.get(s))
    summary_path = run / SUMMARY
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    config = RunConfig.load(run)
    return {
        "run": run.name,
        # the checkpoint's step (summary.json), which may be past the last logged window
        "step": int(summary.get("step", max((r["step"] for r in train), default=0))),
        "points_seen": points,
        "train_seconds": seconds,
        "batch_size": config.train.batch_size,
        "log_every": config.train.log_every,
        "curves": by_name,
        "summary": summary,
    }


def plot(tables: list[dict[str, Any]], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), 4), squeeze=False)
    for ax, table in zip(axes[0], tables, strict=True):
        curves = table["curves"]
        for key, label, style in (
            ("train/nll_per_point", f"train (windows of {table['log_every']} steps)", "-"),
            ("valid/nll_per_point", "validation split", "o--"),
        ):
            if key in curves:
                steps, values = zip(*curves[key], strict=True)
                ax.plot(steps, values, style, label=label)
        ax.set_title(table["run"])
        ax.set_xlabel(f"step ({table['batch_size']} sequences each)")
        ax.set_ylabel("NLL, nats per point")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def run_folders(root: Path, names: str | None) -> list[Path]:
    """The run folders to report: those named (each must hold a metrics.csv), or every run
    folder under `root`; SystemExit with one line where a named one is missing or none is."""
    if not root.is_dir():
        raise SystemExit(f"error: {root}: not a folder of runs")
    if names:
        runs = [root / n for n in names.split(",")]
        missing = [str(r) for r in runs if not (r / "metrics.csv").is_file()]
        if missing:
            raise SystemExit(f"error: no metrics.csv in {', '.join(missing)}")
        return runs
    runs = sorted(p for p in root.iterdir() if (p / "metrics.csv").is_file())
    if not runs:
        raise SystemExit(f"error: {root}: no run folder (with a metrics.csv) in it")
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="folder of run folders")
    parser.add_argument("--names", default=None, help="comma-separated run folders to use")
    parser.add_argument("--png", required=True)
    parser.add_argument("--json", default=None)
    parser.add_argument("--title", default="graves-data: learning curves", help="of the figure")
    args = parser.parse_args(argv)
    tables = [run_table(run) for run in run_folders(Path(args.runs), args.names)]
    plot(tables, Path(args.png), args.title)
    if args.json:
        slim = [{k: v for k, v in t.items() if k != "curves"} for t in tables]
        out = Path(args.json)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(strict_json(slim, indent=2) + "\n", encoding="utf-8")
        tmp.replace(out)
    for table in tables:
        print(
            f"{table['run']}: step {table['step']}, {table['points_seen']:.0f} points, "
            f"{table['train_seconds'] / 60:.1f} min training"
        )


if __name__ == "__main__":
    main()
