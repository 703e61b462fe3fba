"""`graves-data stats` for text datasets: symbols, counts, out-of-vocabulary rate, entropy.

Everything is counted from the shards themselves (not the manifest), batch by batch: a row's
padding is left out by its `length`. Per split:

- `rows`, `symbols` (real ones), `distinct` symbols used, `counts` per vocabulary symbol;
- `unknown` and `oov_rate`: symbols stored as `<unk>` (no id of their own in the vocabulary
  built from train), over all symbols of the split;
- `unigram_bits`: the split's own unigram entropy in bits per symbol (per byte for byte
  vocabularies: the paper's bits-per-character unit);
- `train_unigram_bits`: the cross-entropy of the split under the training split's unigram
  distribution (add-one smoothed over the vocabulary): the floor a model that ignores context
  reaches, which any sequence model must beat.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from graves_data.shards import Dataset
from graves_data.stats import collect, percent, scan
from graves_data.vocab import Vocab

TOP_SYMBOLS = 40


def load_text_vocab(dataset: Dataset) -> Vocab:
    return Vocab.read(dataset.root)


def split_counts(dataset: Dataset, split: str, vocab_size: int) -> tuple[int, npt.NDArray[Any]]:
    """(rows, count of each id) over the real symbols of a split: a polars lazy scan, each
    row's ids cut to its `length` (the padding left out), counted by id."""
    shards = dataset.shards(split)
    counts = np.zeros(vocab_size, dtype=np.int64)
    if not shards:
        return 0, counts
    frame = scan(dataset, split, pa.schema([])).select("ids", "length")
    rows, by_id = collect(
        dataset,
        split,
        frame.select(pl.len().alias("rows")),
        frame.select(pl.col("ids").arr.to_list().list.head(pl.col("length")).alias("id"))
        .explode("id")
        .drop_nulls("id")
        .group_by("id")
        .agg(pl.len().alias("count")),
    )
    for symbol, count in by_id.iter_rows():
        if 0 <= symbol < vocab_size:
            counts[symbol] += count
    return int(rows["rows"][0]), counts


def entropy_bits(counts: npt.NDArray[Any]) -> float:
    """Unigram entropy, bits per symbol, of a count vector."""
    total = int(counts.sum())
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


def cross_entropy_bits(counts: npt.NDArray[Any], model_counts: npt.NDArray[Any]) -> float:
    """Bits per symbol of `counts` under the add-one smoothed unigram model `model_counts`."""
    total = int(counts.sum())
    if total == 0:
        return 0.0
    q = (model_counts + 1) / (model_counts.sum() + len(model_counts))
    return float(-(counts * np.log2(q)).sum() / total)


def text_stats(dataset: Dataset) -> dict[str, Any]:
    """The report of a text dataset, as plain JSON-able data."""
    vocab = load_text_vocab(dataset)
    counted = {split: split_counts(dataset, split, len(vocab)) for split in dataset.splits}
    train = counted.get("train", (0, np.zeros(len(vocab), dtype=np.int64)))[1]
    unk = vocab.unk_id
    splits: dict[str, Any] = {}
    for split, (rows, counts) in counted.items():
        symbols = int(counts.sum())
        unknown = int(counts[unk]) if unk is not None else 0
        splits[split] = {
            "rows": rows,
            "symbols": symbols,
            "distinct": int(np.count_nonzero(counts)),
            "unknown": unknown,
            # no rate over no symbols: an empty split has none (None, shown as "-")
            "oov_rate": unknown / symbols if symbols else None,
            "unigram_bits": entropy_bits(counts) if symbols else None,
            "train_unigram_bits": cross_entropy_bits(counts, train) if symbols else None,
            "counts": {vocab.symbols[i]: int(n) for i, n in enumerate(counts) if n},
        }
    manifest = dataset.manifest
    quarantine = manifest.get("quarantine", [])
    return {
        "dataset": dataset.root.url,
        "corpus": dataset.corpus,
        "schema_version": manifest["schema_version"],
        "content_hash": manifest.get("content_hash"),
        "seq_len": manifest["params"].get("seq_len"),
        "vocab": {"kind": vocab.kind, "size": len(vocab), "unk_id": unk},
        "splits": splits,
        "text": manifest.get("text", {}),
        "quarantine": dict(sorted(Counter(e.get("code", "?") for e in quarantine).items())),
    }


def show_symbol(symbol: str, kind: str) -> str:
    """A symbol as a table cell: control and layout characters named, bytes in hex."""
    if len(symbol) != 1:
        return symbol
    if kind == "byte" and ord(symbol) >= 0x80:
        return f"0x{ord(symbol):02x}"
    if symbol.isprintable() and not symbol.isspace():
        return symbol
    return repr(symbol)[1:-1] if symbol != " " else "space"


def print_text_stats(report: Mapping[str, Any], console: Any) -> None:
    """Tables for people: splits, then the most frequent symbols of train, then quarantine."""
    from rich.table import Table

    vocab = report["vocab"]
    console.print(
        f"[bold]{report['corpus']}[/] {report['dataset']}  schema {report['schema_version']}  "
        f"{vocab['kind']} vocabulary of {vocab['size']}  rows of {report['seq_len']}"
    )
    table = Table(title="splits")
    for heading in ("split", "rows", "symbols", "distinct", "OOV rate", "unigram bpc", "vs train"):
        table.add_column(heading, justify="left" if heading == "split" else "right")
    for split, s in report["splits"].items():
        table.add_row(
            split,
            f"{s['rows']:,}",
            f"{s['symbols']:,}",
            str(s["distinct"]),
            percent(s["oov_rate"], 3),
            _bits(s["unigram_bits"]),
            _bits(s["train_unigram_bits"]),
        )
    console.print(table)
    name, first = next(iter(report["splits"].items()), ("", None))
    if first:
        top = Table(title=f"{TOP_SYMBOLS} most frequent symbols in {name}")
        top.add_column("symbol")
        top.add_column("count", justify="right")
        top.add_column("share", justify="right")
        total = max(1, first["symbols"])
        ranked = sorted(first["counts"].items(), key=lambda item: -item[1])[:TOP_SYMBOLS]
        for symbol, count in ranked:
            top.add_row(show_symbol(symbol, vocab["kind"]), f"{count:,}", f"{count / total:.2%}")
        console.print(top)
    for note in report["text"].get("notes", []):
        console.print(f"note: {note}", markup=False, highlight=False)
    skipped = report["text"].get("skipped")
    if skipped:
        console.print("left out: " + ", ".join(f"{k} {v}" for k, v in skipped.items()))
    if report["quarantine"]:
        console.print(
            "quarantine: " + ", ".join(f"{k} {v}" for k, v in report["quarantine"].items())
        )
    else:
        console.print("quarantine: nothing left out")


def _bits(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def plot_text_stats(dataset: Dataset, report: Mapping[str, Any], out: Path) -> Iterator[Path]:
    """PNG: symbol frequencies (rank / frequency, log scale) per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for split, s in report["splits"].items():
        if not s["symbols"]:
            continue  # an empty split has no frequencies to draw
        counts = sorted(s["counts"].values(), reverse=True)
        total = max(1, s["symbols"])
        ax.plot(range(1, len(counts) + 1), [c / total for c in counts], label=split)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("symbol rank")
    ax.set_ylabel("frequency")
    ax.set_title(f"{report['corpus']}: symbol frequencies")
    ax.legend()
    path = out / "symbols.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    yield path
