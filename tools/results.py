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

from graves_data.models.train import SUMMARY, read_metrics


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
    return {
        "run": run.name,
        "step": max((r["step"] for r in train), default=0),
        "points_seen": points,
        "train_seconds": seconds,
        "curves": by_name,
        "summary": summary,
    }


def plot(tables: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), 4), squeeze=False)
    for ax, table in zip(axes[0], tables, strict=True):
        curves = table["curves"]
        for key, label, style in (
            ("train/nll_per_point", "train (window of 10 steps)", "-"),
            ("valid/nll_per_point", "testset_v (first batches)", "o--"),
        ):
            if key in curves:
                steps, values = zip(*curves[key], strict=True)
                ax.plot(steps, values, style, label=label)
        ax.set_title(table["run"])
        ax.set_xlabel("step (32 lines each)")
        ax.set_ylabel("NLL, nats per point")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("graves-data on the real IAM-OnDB (paper split), 2 shared CPUs")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="folder of run folders")
    parser.add_argument("--names", default=None, help="comma-separated run folders to use")
    parser.add_argument("--png", required=True)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    root = Path(args.runs)
    names = args.names.split(",") if args.names else sorted(p.name for p in root.iterdir())
    runs = [root / n for n in names if (root / n / "metrics.csv").is_file()]
    tables = [run_table(run) for run in runs]
    plot(tables, Path(args.png))
    if args.json:
        slim = [{k: v for k, v in t.items() if k != "curves"} for t in tables]
        Path(args.json).write_text(json.dumps(slim, indent=2) + "\n", encoding="utf-8")
    for table in tables:
        print(
            f"{table['run']}: step {table['step']}, {table['points_seen']:.0f} points, "
            f"{table['train_seconds'] / 60:.1f} min training"
        )


if __name__ == "__main__":
    main()
