"""`graves-data stats` and `show`: what a built dataset holds, from its shards and manifest.

The figures are computed by polars over lazy scans of the shards (`pl.scan_parquet` of the
split's files, `.collect()` on the streaming engine): only the columns a figure needs are read,
in morsels, so memory stays small whatever the corpus size. Text datasets are described by
`graves_data.textstats`, through the same `scan`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from graves_data.errors import DatasetError
from graves_data.manifest import by_reason
from graves_data.schema import HANDWRITING, HANDWRITING_COUNTS, strict_json
from graves_data.shards import READ_ERRORS, Dataset, open_dataset
from graves_data.vocab import Vocab

PERCENTILES = (5, 25, 50, 75, 95)
SUMMED = tuple(HANDWRITING_COUNTS.values())
LENGTHS = ("n_points", "n_chars", "n_strokes")
OFFSET_LIMIT = 150.0  # board units either side of 0 in offsets.png


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
        "lines_left_out": (dataset.manifest.get("report") or {}).get("lines_left_out"),
        "vocab_size": len(vocab),
    }
    return report


def load_vocab(dataset: Dataset) -> Vocab:
    return Vocab.read(dataset.root)


def quarantine_counts(entries: Iterable[Mapping[str, str]]) -> dict[str, int]:
    return dict(sorted(Counter(e.get("code", "unknown") for e in entries).items()))


# ---------------------------------------------------------------------------------------------
# scans


def scan(dataset: Dataset, split: str, empty: pa.Schema) -> pl.LazyFrame:
    """A lazy scan of one split's shards. Each footer is read first (with pyarrow), so a
    truncated or overwritten shard is a DatasetError naming it; a split with no shards is
    an empty frame of `empty`'s columns."""
    sources: list[Any] = []
    for shard in dataset.shards(split):
        location = dataset.root.join(shard.path)
        with location.open("rb") as handle:
            dataset.parquet_file(shard.path, handle)
        # a local file is scanned where it is; another store's bytes are handed over whole
        sources.append(location.path if location.is_local else location.read_bytes())
    if not sources:
        return pl.from_arrow(empty.empty_table()).lazy()  # type: ignore[union-attr]
    return pl.scan_parquet(sources, hive_partitioning=False)


def collect(dataset: Dataset, split: str, *frames: pl.LazyFrame) -> list[pl.DataFrame]:
    """Collect `frames` together (one pass over the shards they share); a shard damaged
    past its footer is a DatasetError, not a polars traceback."""
    try:
        return pl.collect_all(list(frames), engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise DatasetError(
            f"{dataset.root.url}: a shard of split {split!r} does not decode ({exc}); "
            f"run `graves-data verify {dataset.root.url}`"
        ) from exc


# ---------------------------------------------------------------------------------------------
# handwriting


def percentiles(frame: pl.DataFrame, column: str) -> dict[str, float]:
    """p5 ... p95 (numpy's default, linear interpolation), max and mean of one summary row."""
    if frame[f"{column}.max"][0] is None:
        return {}
    out = {f"p{p}": float(frame[f"{column}.p{p}"][0]) for p in PERCENTILES}
    out["max"] = float(frame[f"{column}.max"][0])
    out["mean"] = float(frame[f"{column}.mean"][0])
    return out


def _summary_exprs() -> list[pl.Expr]:
    exprs = [pl.len().alias("rows"), *(pl.col(c).cast(pl.Int64).sum().alias(c) for c in SUMMED)]
    exprs.append(pl.col("writer_id").drop_nulls().n_unique().alias("writers"))
    exprs.append(pl.col("writer_id").null_count().alias("no_writer"))
    for column in LENGTHS:
        values = pl.col(column).cast(pl.Float64)
        exprs += [
            *(
                values.quantile(p / 100, interpolation="linear").alias(f"{column}.p{p}")
                for p in PERCENTILES
            ),
            values.max().alias(f"{column}.max"),
            values.mean().alias(f"{column}.mean"),
        ]
    return exprs


def char_counts_frame(frame: pl.LazyFrame) -> pl.LazyFrame:
    """(char, count) of every character (code point) of the `text` column."""
    return (
        frame.select(pl.col("text").str.split("").alias("char"))
        .explode("char")
        .drop_nulls("char")
        .filter(pl.col("char") != "")
        .group_by("char")
        .agg(pl.len().alias("count"))
    )


def by_count(item: tuple[str, int]) -> tuple[int, str]:
    """Most frequent first, ties by character."""
    return -item[1], item[0]


def split_stats(dataset: Dataset, split: str, vocab: Vocab) -> dict[str, Any]:
    frame = scan(dataset, split, HANDWRITING).select("writer_id", "text", *SUMMED)
    summary, counted = collect(
        dataset, split, frame.select(_summary_exprs()), char_counts_frame(frame)
    )
    chars = {str(c): int(n) for c, n in counted.iter_rows()}
    total_chars = sum(chars.values())
    oov = {c: n for c, n in chars.items() if vocab.id_of(c) is None}
    return {
        "lines": int(summary["rows"][0]),
        "points": int(summary["n_points"][0] or 0),
        "strokes": int(summary["n_strokes"][0] or 0),
        "chars": int(summary["n_chars"][0] or 0),
        "writers": int(summary["writers"][0]),
        "lines_without_writer": int(summary["no_writer"][0]),
        "cleaning": {
            "interpolated": int(summary["n_interpolated"][0] or 0),
            "dropped": int(summary["n_dropped"][0] or 0),
            "time_repaired": int(summary["n_time_repaired"][0] or 0),
            "empty_strokes": int(summary["n_empty_strokes"][0] or 0),
        },
        "length": {name.removeprefix("n_"): percentiles(summary, name) for name in LENGTHS},
        # no coverage over no characters: an empty split has none to cover
        "coverage": (total_chars - sum(oov.values())) / total_chars if total_chars else None,
        "oov": dict(sorted(oov.items(), key=by_count)),
        "char_counts": dict(sorted(chars.items(), key=by_count)),
    }


def percent(share: float | None, digits: int = 2) -> str:
    """A share as a percentage that never rounds to a bound it does not reach: one unknown
    character in 30,000 is ">99.99%", not "100.00%"; one in a million is "<0.01%", not
    "0.00%". An absent share (an empty split) is "-"."""
    if share is None:
        return "-"
    shown = f"{100 * share:.{digits}f}"
    step = 10.0**-digits
    if share < 1 and float(shown) >= 100:
        return f">{100 - step:.{digits}f}%"
    if share > 0 and float(shown) <= 0:
        return f"<{step:.{digits}f}%"
    return f"{shown}%"


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
        "no writer",
        "coverage",
        "interp.",
        "dropped",
    ):
        table.add_column(heading, justify="right")
    for name, s in report["splits"].items():
        table.add_row(
            name, f"{s['lines']:,}", f"{s['points']:,}", f"{s['strokes']:,}", f"{s['chars']:,}",
            str(s["writers"]), f"{s['lines_without_writer']:,}", percent(s["coverage"]),
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
    lines = report.get("lines_left_out")
    if lines:
        console.print(f"text lines left out: {sum(lines.values()):,} ({by_reason(lines)})")
    elif lines is not None:
        console.print("text lines left out: none")
    quarantine = report.get("quarantine") or {}
    if quarantine:
        q = Table(title=f"quarantine ({sum(quarantine.values())} inputs)")
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
    """PNGs: points per line (one panel per split), offsets (dx, dy), character frequencies."""
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


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _plot_lengths(dataset: Dataset, out: Path, plt: Any) -> Path:
    """One panel per split, the same bins and x axis in each: overlaid, four splits hide
    each other."""
    from matplotlib.ticker import MaxNLocator

    values = {
        split: collect(dataset, split, scan(dataset, split, HANDWRITING).select("n_points"))[0]
        .to_series()
        .to_numpy()
        for split in dataset.splits
    }
    largest = max((int(v.max()) for v in values.values() if len(v)), default=1)
    edges = np.linspace(0, largest, 51)
    fig, axes = plt.subplots(
        len(values), 1, figsize=(8, 1.8 * len(values) + 0.6), sharex=True, squeeze=False
    )
    for ax, (split, points) in zip(axes[:, 0], values.items(), strict=True):
        ax.hist(points, bins=edges, color="tab:blue")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("lines")
        note = f"{len(points):,} lines, median {np.median(points):,.0f}" if len(points) else "empty"
        ax.set_title(f"{split}: {note}", fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("points per line")
    fig.tight_layout()
    return _save(fig, out / "points_per_line.png", plt)


def offset_histogram(
    dataset: Dataset, split: str, limit: float = OFFSET_LIMIT, bins: int = 120
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(edges, counts of dx and dy in `bins` bins over [-limit, limit], points beyond the
    range for dx and dy), counted by polars over the split's offsets."""
    width = 2 * limit / bins
    points = (
        scan(dataset, split, HANDWRITING)
        .select(pl.col("offsets").explode().alias("p"))
        .drop_nulls("p")
        .select(pl.col("p").arr.get(0).alias("dx"), pl.col("p").arr.get(1).alias("dy"))
    )
    frames = [
        points.select(
            pl.when(pl.col(axis) == limit)  # the right edge belongs to the last bin
            .then(bins - 1)
            .otherwise(((pl.col(axis) + limit) / width).floor())
            .cast(pl.Int64)
            .alias("bin")
        )
        .group_by("bin")
        .agg(pl.len().alias("count"))
        for axis in ("dx", "dy")
    ]
    counts = np.zeros((2, bins), dtype=np.int64)
    beyond = np.zeros(2, dtype=np.int64)
    for axis, frame in enumerate(collect(dataset, split, *frames)):
        for index, count in frame.iter_rows():
            if 0 <= index < bins:
                counts[axis, index] += count
            else:
                beyond[axis] += count
    return np.linspace(-limit, limit, bins + 1), counts, beyond


def _plot_offsets(dataset: Dataset, out: Path, plt: Any, limit: float = OFFSET_LIMIT) -> Path:
    """Histograms of dx and dy over the first split, on a log scale, within +-limit; how many
    points lie beyond is written on each panel."""
    split = dataset.splits[0]
    edges, counts, beyond = offset_histogram(dataset, split, limit)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, name in ((0, "dx"), (1, "dy")):
        ax = axes[axis]
        ax.bar(edges[:-1], counts[axis], width=np.diff(edges), align="edge")
        ax.set_yscale("log")
        ax.set_xlabel(f"{name} (board units)")
        total = int(counts[axis].sum() + beyond[axis])
        share = percent(beyond[axis] / total if total else None)
        ax.set_title(
            f"{name}: {beyond[axis]:,} of {total:,} points ({share}) beyond \u00b1{limit:g}, "
            "not shown",
            fontsize=9,
        )
    axes[0].set_ylabel("points (log scale)")
    fig.suptitle(f"pen offsets between points, split {split}")
    fig.tight_layout()
    return _save(fig, out / "offsets.png", plt)


def _plot_chars(report: Mapping[str, Any], out: Path, plt: Any) -> Path:
    """Character frequencies: each split's share of every character, in the order of the
    first split's counts, on a log scale; characters outside the vocabulary in red."""
    splits = report["splits"]
    order: list[str] = []
    for s in splits.values():
        order += [c for c in s["char_counts"] if c not in order]
    fig, axes = plt.subplots(
        len(splits), 1, figsize=(max(8.0, 0.16 * len(order) + 1), 2.0 * len(splits) + 0.8),
        sharex=True, squeeze=False,
    )  # fmt: skip
    x = np.arange(len(order))
    for ax, (split, s) in zip(axes[:, 0], splits.items(), strict=True):
        total = max(1, sum(s["char_counts"].values()))
        shares = [s["char_counts"].get(c, 0) / total for c in order]
        colors = ["tab:red" if c in s["oov"] else "tab:blue" for c in order]
        ax.bar(x, shares, color=colors, width=0.8)
        ax.set_yscale("log")
        ax.set_ylabel("share")
        outside = sum(s["oov"].values())
        ax.set_title(
            f"{split}: {total:,} characters, {len(s['char_counts'])} distinct, "
            f"{outside:,} outside the vocabulary (red)",
            fontsize=10, loc="left",
        )  # fmt: skip
    axes[-1, 0].set_xticks(x, [_label(c) for c in order], fontsize=7, family="monospace")
    axes[-1, 0].set_xlabel("character (most frequent in the first split first)")
    fig.tight_layout()
    return _save(fig, out / "characters.png", plt)


def _label(char: str) -> str:
    if char == " ":
        return "\u2423"  # open box: a space
    return char if char.isprintable() else repr(char)[1:-1]


# ---------------------------------------------------------------------------------------------
# one line


def find_line(target: str | Dataset, line_id: str) -> dict[str, Any]:
    """One row of a handwriting dataset, by line id; offsets as an (N, 3) array."""
    dataset = target if isinstance(target, Dataset) else open_dataset(target)
    if dataset.manifest.get("kind") == "text":
        raise DatasetError(f"{dataset.root.url}: a text dataset has no lines to draw")
    for shard in dataset.all_shards():
        with dataset.root.join(shard.path).open("rb") as handle:
            try:
                table = pq.read_table(handle, filters=[("line_id", "=", line_id)])
            except READ_ERRORS as exc:
                raise dataset.unreadable(shard.path, exc) from exc
        if table.num_rows:
            row = table.slice(0, 1).to_pylist()[0]
            row["offsets"] = np.asarray(row["offsets"], dtype=np.float32).reshape(-1, 3)
            return dict(row)
    raise DatasetError(f"{dataset.root.url}: no line {line_id!r}")
