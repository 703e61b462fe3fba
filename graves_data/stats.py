"""`graves-data stats` and `show`: what a built dataset holds, from its shards and manifest.

Reads only the columns it needs, batch by batch, so memory stays small whatever the corpus size.
Text datasets are described by `graves_data.textstats`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graves_data.errors import DatasetError
from graves_data.schema import HANDWRITING_COUNTS, strict_json
from graves_data.shards import Dataset, open_dataset
from graves_data.vocab import Vocab

PERCENTILES = (5, 25, 50, 75, 95)
SUMMED = tuple(HANDWRITING_COUNTS.values())


def compute(target: str | Dataset) -> dict[str, Any]:
    """The full report of a dataset, as plain JSON-able data."""
    dataset = target if isinstance(target, Dataset) else open_dataset(target)
    if dataset.manifest.get("kind") == "text":
        from graves_data import textstats

        return {"kind": "text", **textstats.text_stats(dataset)}
    vocab = load_vocab(dataset)
    report: dict[str, Any] = {
        "kind": "handwriting",
        "dataset": dataset.root.url,
        "corpus": dataset.corpus,
        "schema_version": dataset.manifest["schema_version"],
        "content_hash": dataset.manifest.get("content_hash"),
        "splits": {split: split_stats(dataset, split, vocab) for split in dataset.splits},
        "normalization": dataset.manifest.get("normalization"),
        "quarantine": quarantine_counts(dataset.manifest.get("quarantine", [])),
        "vocab_size": len(vocab),
    }
    return report


def load_vocab(dataset: Dataset) -> Vocab:
    return Vocab.read(dataset.root)


def quarantine_counts(entries: Iterable[Mapping[str, str]]) -> dict[str, int]:
    return dict(sorted(Counter(e.get("code", "unknown") for e in entries).items()))


def percentiles(values: npt.NDArray[np.int64]) -> dict[str, float]:
    if len(values) == 0:
        return {}
    out = {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES}
    out["max"] = float(values.max())
    out["mean"] = float(values.mean())
    return out


def split_stats(dataset: Dataset, split: str, vocab: Vocab) -> dict[str, Any]:
    columns = ["writer_id", "text", *SUMMED]
    sums = dict.fromkeys(SUMMED, 0)
    lengths: dict[str, list[npt.NDArray[np.int64]]] = {
        "n_points": [],
        "n_chars": [],
        "n_strokes": [],
    }
    writers: set[str] = set()
    chars: Counter[str] = Counter()
    rows = 0
    for batch in dataset.iter_batches(split, columns=columns):
        rows += batch.num_rows
        for name in SUMMED:
            column = batch.column(name)
            sums[name] += int(pc.sum(column).as_py() or 0)
            if name in lengths:
                lengths[name].append(column.to_numpy().astype(np.int64))
        writers.update(w for w in batch.column("writer_id").to_pylist() if w is not None)
        for text in batch.column("text").to_pylist():
            chars.update(text)
    total_chars = sum(chars.values())
    oov = {c: n for c, n in chars.items() if vocab.id_of(c) is None}
    return {
        "lines": rows,
        "points": sums["n_points"],
        "strokes": sums["n_strokes"],
        "chars": sums["n_chars"],
        "writers": len(writers),
        "cleaning": {
            "interpolated": sums["n_interpolated"],
            "dropped": sums["n_dropped"],
            "time_repaired": sums["n_time_repaired"],
            "empty_strokes": sums["n_empty_strokes"],
        },
        "length": {
            name.removeprefix("n_"): percentiles(
                np.concatenate(parts) if parts else np.zeros(0, np.int64)
            )
            for name, parts in lengths.items()
        },
        "coverage": (total_chars - sum(oov.values())) / total_chars if total_chars else 1.0,
        "oov": dict(sorted(oov.items(), key=lambda item: (-item[1], item[0]))),
    }


def to_json(report: Mapping[str, Any]) -> str:
    return strict_json(report, indent=2, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# people


def print_report(report: Mapping[str, Any]) -> None:
    import sys

    from rich.console import Console

    # a pipe or a log file has no width: give the tables room rather than 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=120)
    if report.get("kind") == "text":
        from graves_data import textstats

        textstats.print_text_stats(report, console)
        return
    _print_handwriting(report, console)


def _print_handwriting(report: Mapping[str, Any], console: Any) -> None:
    from rich.table import Table

    console.print(
        f"[bold]{report['corpus']}[/] {report['dataset']}  schema {report['schema_version']}"
    )
    table = Table(title="splits")
    for heading in (
        "split",
        "lines",
        "points",
        "strokes",
        "chars",
        "writers",
        "coverage",
        "interp.",
        "dropped",
    ):
        table.add_column(heading, justify="right")
    for name, s in report["splits"].items():
        table.add_row(
            name, f"{s['lines']:,}", f"{s['points']:,}", f"{s['strokes']:,}", f"{s['chars']:,}",
            str(s["writers"]), f"{100 * s['coverage']:.2f}%",
            f"{s['cleaning']['interpolated']:,}", f"{s['cleaning']['dropped']:,}",
        )  # fmt: skip
    console.print(table)
    lengths = Table(title="length per line (p5 / p50 / p95 / max)")
    for heading in ("split", "points", "chars", "strokes"):
        lengths.add_column(heading, justify="right")
    for name, s in report["splits"].items():
        lengths.add_row(
            name, *(_pct(s["length"].get(k, {})) for k in ("points", "chars", "strokes"))
        )
    console.print(lengths)
    norm = report.get("normalization") or {}
    if norm:
        mean, std = norm["mean"], norm["std"]
        console.print(
            f"normalisation over [bold]{norm.get('split')}[/]: mean dx, dy = "
            f"{mean[0]:.3f}, {mean[1]:.3f}; std = {std[0]:.3f}, {std[1]:.3f}"
        )
    for name, s in report["splits"].items():
        if s["oov"]:
            shown = ", ".join(f"{c!r}:{n}" for c, n in list(s["oov"].items())[:10])
            console.print(f"{name}: characters outside the vocabulary: {shown}")
    quarantine = report.get("quarantine") or {}
    if quarantine:
        q = Table(title=f"quarantine ({sum(quarantine.values())} inputs left out)")
        q.add_column("reason")
        q.add_column("count", justify="right")
        for code, count in quarantine.items():
            q.add_row(code, str(count))
        console.print(q)
    else:
        console.print("quarantine: nothing left out")


def _pct(values: Mapping[str, float]) -> str:
    if not values:
        return "-"
    return f"{values['p5']:.0f} / {values['p50']:.0f} / {values['p95']:.0f} / {values['max']:.0f}"


# ---------------------------------------------------------------------------------------------
# plots


def plot(target: str | Dataset, report: Mapping[str, Any], folder: str) -> list[Path]:
    """PNG histograms: points per line, offsets (dx, dy), characters."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dataset = target if isinstance(target, Dataset) else open_dataset(target)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if report.get("kind") == "text":
        from graves_data import textstats

        return list(textstats.plot_text_stats(dataset, report, out))
    written = [
        _plot_lengths(dataset, out, plt),
        _plot_offsets(dataset, out, plt),
        _plot_chars(report, out, plt),
    ]
    return written


def _plot_lengths(dataset: Dataset, out: Path, plt: Any) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    for split in dataset.splits:
        values = np.concatenate(
            [b.column("n_points").to_numpy() for b in dataset.iter_batches(split, ["n_points"])]
            or [np.zeros(0)]
        )
        ax.hist(values, bins=50, alpha=0.6, label=split)
    ax.set_xlabel("points per line")
    ax.set_ylabel("lines")
    ax.legend()
    path = out / "points_per_line.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _plot_offsets(dataset: Dataset, out: Path, plt: Any, limit: float = 150.0) -> Path:
    """Histograms of dx and dy over the first split, accumulated batch by batch."""
    edges = np.linspace(-limit, limit, 121)
    counts = np.zeros((2, len(edges) - 1), dtype=np.int64)
    split = dataset.splits[0]
    for batch in dataset.iter_batches(split, ["offsets"]):
        flat = batch.column("offsets").flatten().flatten().to_numpy().reshape(-1, 3)
        for axis in (0, 1):
            counts[axis] += np.histogram(flat[:, axis], bins=edges)[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, name in ((0, "dx"), (1, "dy")):
        axes[axis].bar(edges[:-1], counts[axis], width=np.diff(edges), align="edge")
        axes[axis].set_yscale("log")
        axes[axis].set_xlabel(f"{name} (board units, {split})")
    path = out / "offsets.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _plot_chars(report: Mapping[str, Any], out: Path, plt: Any) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(report["splits"])
    ax.bar(names, [report["splits"][n]["chars"] for n in names])
    ax.set_ylabel("characters")
    path = out / "characters.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# one line


def find_line(target: str | Dataset, line_id: str) -> dict[str, Any]:
    """One row of a handwriting dataset, by line id; offsets as an (N, 3) array."""
    dataset = target if isinstance(target, Dataset) else open_dataset(target)
    if dataset.manifest.get("kind") == "text":
        raise DatasetError(f"{dataset.root.url}: a text dataset has no lines to draw")
    for shard in dataset.all_shards():
        with dataset.root.join(shard.path).open("rb") as handle:
            table = pq.read_table(handle, filters=[("line_id", "=", line_id)])
        if table.num_rows:
            row = table.slice(0, 1).to_pylist()[0]
            row["offsets"] = np.asarray(row["offsets"], dtype=np.float32).reshape(-1, 3)
            return dict(row)
    raise DatasetError(f"{dataset.root.url}: no line {line_id!r}")
