"""Small learnable datasets in the real on-disk format, for the networks' tests and benchmarks.

They are written with the core shard writer (`ShardWriter`, `write_manifest`, `build_vocab`),
so they are datasets like any build's, only made up and small. Both are learnable:
- handwriting: each character is drawn as its own smooth loop (size, width and turns depend on
  the character), one pen-down stroke per character, pen-up moves between them, per-line slant
  and size, a little jitter, integer board coordinates; so the next point is predictable from
  the last few, and the shape of a line from its text;
- text: sentences drawn from a tiny grammar, so a small LSTM learns far below the unigram
  entropy.
No torch here: the data toolkit's tests could use them too.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from graves_data.manifest import DatasetKind, make_manifest, write_manifest
from graves_data.schema import HANDWRITING, file_metadata, text_schema
from graves_data.shards import (
    VOCAB,
    ShardInfo,
    ShardWriter,
    shard_path,
)
from graves_data.storage import resolve
from graves_data.vocab import Vocab, build_vocab

LETTERS = "abcdefghij"
WORDS = ("a", "bad", "cab", "dig", "fig", "hij", "jab", "bead", "face", "hide")
SUBJECTS = ("the cat", "a dog", "my friend", "the old man", "every child")
VERBS = ("sees", "likes", "finds", "eats", "draws")
OBJECTS = ("the ball.", "a red apple.", "some bread.", "the big house.", "a small bird.")


# ---------------------------------------------------------------------------------------------
# handwriting


def glyph(char: str, rng: np.random.Generator, scale: float) -> npt.NDArray[np.float64]:
    """The pen path of one character, relative to its start: a loop shaped by the character."""
    k = LETTERS.index(char) if char in LETTERS else len(LETTERS)
    points = 8 + k % 4 * 2
    turns = 1.0 + (k % 3) * 0.5
    width, height = (14 + 4 * (k % 4)) * scale, (30 + 6 * (k % 5)) * scale
    s = np.linspace(0.0, 1.0, points)
    angle = 2 * math.pi * turns * s
    x = width * s + 0.5 * width * np.sin(angle) * (1 if k % 2 else -1)
    y = -height * 0.5 * (1 - np.cos(angle)) * (0.6 + 0.4 * s)
    jitter = rng.normal(0.0, 0.8, size=(points, 2))
    return np.stack([x, y], axis=1) + jitter


def line_offsets(text: str, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """(n, 3) offset rows (dx, dy, end_of_stroke) of a line of text, first row (0, 0, eos)."""
    scale = float(rng.uniform(0.8, 1.25))
    slant = float(rng.uniform(-0.25, 0.25))
    pen = np.array([0.0, 0.0])
    strokes = []
    for char in text:
        if char == " ":
            pen = pen + np.array([20.0 * scale, 0.0])
            continue
        path = glyph(char, rng, scale)
        path[:, 0] += -slant * path[:, 1]
        strokes.append(np.round(pen + path))
        pen = pen + np.array([path[-1, 0] + 6.0 * scale, 0.0])
    points = np.concatenate(strokes)
    eos = np.zeros(len(points), dtype=np.float32)
    eos[np.cumsum([len(s) for s in strokes]) - 1] = 1.0
    steps = np.diff(points, axis=0, prepend=points[:1])
    return np.column_stack([steps, eos]).astype(np.float32)


def random_text(rng: np.random.Generator, words: int) -> str:
    return " ".join(WORDS[i] for i in rng.integers(len(WORDS), size=words))


def handwriting_rows(texts: Sequence[str], seed: int, prefix: str) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i, text in enumerate(texts):
        offsets = line_offsets(text, rng)
        rows.append(
            {
                "line_id": f"{prefix}{i:05d}",
                "form_id": f"{prefix}{i // 8:04d}",
                "writer_id": f"w{i % 7}",
                "text": text,
                "offsets": offsets,
                "n_points": len(offsets),
                "n_strokes": int(offsets[:, 2].sum()),
                "n_chars": len(text),
            }
        )
    return rows


def write_handwriting_dataset(
    out: str | Path,
    lines: Mapping[str, int] | None = None,
    *,
    shards: int = 2,
    seed: int = 0,
    words: tuple[int, int] = (1, 3),
    row_group_rows: int = 16,
) -> Path:
    """A handwriting dataset at `out` (splits and line counts from `lines`)."""
    lines = dict(lines or {"train": 96, "valid": 32})
    rng = np.random.default_rng([seed, 1])
    texts = {
        split: [random_text(rng, int(rng.integers(words[0], words[1] + 1))) for _ in range(count)]
        for split, count in lines.items()
    }
    train_split = next(iter(lines))
    vocab = build_vocab(Counter("".join(texts[train_split])))
    rows = {
        split: handwriting_rows(texts[split], seed + i, f"{split[:2]}-")
        for i, split in enumerate(lines)
    }
    params = {"seed": seed, "lines": lines, "generator": "graves_data.synth.learnable"}
    return _write_dataset(
        Path(out),
        "synthetic-handwriting",
        "handwriting",
        params,
        vocab,
        {split: [_handwriting_record(r, vocab) for r in rs] for split, rs in rows.items()},
        HANDWRITING,
        shards,
        row_group_rows,
        {"normalization": _normalization(rows[train_split], train_split)},
    )


def _handwriting_record(row: Mapping[str, Any], vocab: Vocab) -> dict[str, Any]:
    return {
        **row,
        "text_ids": vocab.encode(row["text"]).tolist(),
        "offsets": row["offsets"].tolist(),
        "origin": [100, 200],
        "dt": None,
        "n_interpolated": 0,
        "n_dropped": 0,
        "n_time_repaired": 0,
        "n_empty_strokes": 0,
    }


def _normalization(rows: Sequence[Mapping[str, Any]], split: str) -> dict[str, Any]:
    steps = np.concatenate([r["offsets"][1:, :2] for r in rows]).astype(np.float64)
    return {
        "split": split,
        "count": len(steps),
        "mean": steps.mean(axis=0).tolist(),
        "std": steps.std(axis=0).tolist(),
        "over": "dx, dy of every point but each line's first",
    }


# ---------------------------------------------------------------------------------------------
# text


def grammar_text(rng: np.random.Generator, sentences: int) -> str:
    parts = []
    for _ in range(sentences):
        parts.append(
            f"{SUBJECTS[rng.integers(len(SUBJECTS))]} {VERBS[rng.integers(len(VERBS))]} "
            f"{OBJECTS[rng.integers(len(OBJECTS))]}"
        )
    return " ".join(parts) + "\n"


def write_text_dataset(
    out: str | Path,
    symbols: Mapping[str, int] | None = None,
    *,
    seq_len: int = 20,
    shards: int = 2,
    seed: int = 0,
    row_group_rows: int = 16,
) -> Path:
    """A byte-vocabulary text dataset at `out`: about `symbols[split]` bytes per split."""
    symbols = dict(symbols or {"train": 8000, "valid": 2000})
    rng = np.random.default_rng([seed, 2])
    texts = {split: grammar_text(rng, max(1, n // 30))[:n] for split, n in symbols.items()}
    train_split = next(iter(symbols))
    vocab = build_vocab(Counter(texts[train_split]), kind="byte")
    table = vocab.byte_table()
    records = {}
    for split, text in texts.items():
        ids = table[np.frombuffer(text.encode(), dtype=np.uint8)].clip(min=0)
        records[split] = _chunks(ids, seq_len)
    params = {"seed": seed, "symbols": symbols, "seq_len": seq_len}
    return _write_dataset(
        Path(out),
        "synthetic-text",
        "text",
        params,
        vocab,
        records,
        text_schema(seq_len, pa.uint8()),
        shards,
        row_group_rows,
        {},
    )


def _chunks(ids: npt.NDArray[Any], seq_len: int) -> list[dict[str, Any]]:
    rows = []
    for offset in range(0, len(ids), seq_len):
        chunk = ids[offset : offset + seq_len]
        padded = np.zeros(seq_len, dtype=np.uint8)
        padded[: len(chunk)] = chunk
        rows.append({"ids": padded.tolist(), "offset": offset, "length": len(chunk)})
    return rows


# ---------------------------------------------------------------------------------------------


def _write_dataset(
    out: Path,
    corpus: str,
    kind: DatasetKind,
    params: dict[str, Any],
    vocab: Vocab,
    records: Mapping[str, list[dict[str, Any]]],
    schema: pa.Schema,
    shards: int,
    row_group_rows: int,
    extra: Mapping[str, Any],
) -> Path:
    root = resolve(str(out))
    root.makedirs()
    metadata = file_metadata(corpus, params)
    splits: dict[str, Any] = {}
    written: list[ShardInfo] = []
    for split, rows in records.items():
        count = max(1, min(shards, len(rows)))
        infos = []
        for i in range(count):
            part = rows[len(rows) * i // count : len(rows) * (i + 1) // count]
            writer = ShardWriter(
                root, shard_path(split, i, count), schema, metadata, row_group_rows
            )
            with writer:
                writer.write(pa.Table.from_pylist(part, schema=schema))
            if writer.info is None:
                raise RuntimeError(f"{writer.rel_path}: the shard writer wrote nothing")
            infos.append(writer.info)
        written.extend(infos)
        splits[split] = {"rows": len(rows), "files": [s.to_json() for s in infos]}
    root.join(VOCAB).write_atomic(vocab.to_bytes())
    manifest = make_manifest(
        corpus=corpus,
        kind=kind,
        params=params,
        sources=[],
        splits=splits,
        quarantine=[],
        extra=extra,
        vocab=vocab,
        shards=written,
    )
    write_manifest(root, manifest)
    return out
