"""What the server may show: the datasets, runs and ink folder it was started with, by name.

Every request names a dataset, a run or a line; each is looked up here in a dict built at start
(names are folder names, line ids come from the shards) and never joined into a path. So a
request can reach nothing but what was named on the command line: `../`, absolute paths,
encoded slashes and NUL are simply names that are not in the dict.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from graves_data.errors import DatasetError, GravesDataError, UsageError
from graves_data.render import strokes_from_offsets
from graves_data.schema import HANDWRITING_COUNTS
from graves_data.shards import (
    BUILD_DIR,
    PLAN_FILE,
    VOCAB,
    Dataset,
    build_state,
    open_dataset,
    read_json,
)
from graves_data.storage import Location, resolve
from graves_data.vocab import Vocab

LINE_COLUMNS = ["line_id", "writer_id", "text", "n_points", "n_strokes"]
COUNT_COLUMNS = tuple(HANDWRITING_COUNTS.values())
PLOTS = ("points_per_line", "offsets", "characters")
MAX_LIMIT = 500


class NotFound(GravesDataError):
    """A dataset, run, line or file that the server was not started with."""


@dataclass(frozen=True)
class LineEntry:
    line_id: str
    split: str
    writer_id: str | None
    text: str
    n_points: int
    n_strokes: int
    shard: str

    def to_json(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "split": self.split,
            "writer_id": self.writer_id,
            "text": self.text,
            "n_points": self.n_points,
            "n_strokes": self.n_strokes,
        }


@dataclass
class DatasetEntry:
    """One dataset named on the command line, with its line index (handwriting)."""

    name: str
    dataset: Dataset
    vocab: Vocab
    lines: list[LineEntry] = field(default_factory=list)
    by_id: dict[str, LineEntry] = field(default_factory=dict)
    _stats: dict[str, Any] | None = None
    _plots: dict[str, Path] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def kind(self) -> str:
        return str(self.dataset.manifest.get("kind", "handwriting"))

    def summary(self) -> dict[str, Any]:
        manifest = self.dataset.manifest
        return {
            "name": self.name,
            "corpus": manifest["corpus"],
            "kind": self.kind,
            "splits": {name: int(s["rows"]) for name, s in manifest["splits"].items()},
            "quarantined": len(manifest.get("quarantine", [])),
            "content_hash": manifest.get("content_hash"),
            "vocab_size": len(self.vocab),
        }

    def stats(self) -> dict[str, Any]:
        from graves_data import stats

        with self._lock:
            if self._stats is None:
                self._stats = stats.compute(self.dataset)
            return self._stats

    def plot(self, name: str) -> Path:
        """A `stats` plot (PNG), drawn once into a private temporary folder."""
        from graves_data import stats

        report = self.stats()
        with self._lock:
            if self._plots is None:
                folder = tempfile.mkdtemp(prefix="graves-data-serve-")
                paths = stats.plot(self.dataset, report, folder)
                self._plots = {p.stem: p for p in paths}
            path = self._plots.get(name)
        if path is None:
            raise NotFound(f"no plot {name!r}")
        return path

    def search(
        self, q: str = "", split: str = "", offset: int = 0, limit: int = 50
    ) -> dict[str, Any]:
        """Lines whose text, line id or writer contains `q` (case-insensitive)."""
        if split and split not in self.dataset.manifest["splits"]:
            raise NotFound(f"no split {split!r}")
        needle = q.strip().lower()
        found = [
            line
            for line in self.lines
            if (not split or line.split == split)
            and (
                not needle
                or needle in line.text.lower()
                or needle in line.line_id.lower()
                or needle in (line.writer_id or "").lower()
            )
        ]
        limit = max(1, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        return {
            "total": len(found),
            "offset": offset,
            "limit": limit,
            "lines": [line.to_json() for line in found[offset : offset + limit]],
        }

    def row(self, line_id: str) -> dict[str, Any]:
        """The full row of one line (offsets as an (N, 3) array)."""
        entry = self.by_id.get(line_id)
        if entry is None:
            raise NotFound(f"no line {line_id!r} in {self.name}")
        with self.dataset.root.join(entry.shard).open("rb") as handle:
            table = pq.read_table(handle, filters=[("line_id", "=", entry.line_id)])
        if not table.num_rows:
            raise NotFound(f"line {line_id!r} vanished from {entry.shard}")
        row = dict(table.slice(0, 1).to_pylist()[0])
        row["offsets"] = np.asarray(row["offsets"], dtype=np.float32).reshape(-1, 3)
        row["split"] = entry.split
        return row

    def line_json(self, line_id: str) -> dict[str, Any]:
        """A line for the page: strokes of (x, y, t) points, counts, raw points if reachable."""
        row = self.row(line_id)
        strokes = strokes_from_offsets(row["offsets"], row["origin"])
        times = _times(row.get("dt"), len(row["offsets"]))
        drawn, start = [], 0
        for stroke in strokes:
            t = times[start : start + len(stroke)]
            drawn.append(
                [[float(x), float(y), float(s)] for (x, y), s in zip(stroke, t, strict=True)]
            )
            start += len(stroke)
        raw, why = self.raw_strokes(line_id)
        return {
            "line_id": row["line_id"],
            "split": row["split"],
            "writer_id": row["writer_id"],
            "form_id": row["form_id"],
            "text": row["text"],
            "has_time": row.get("dt") is not None,
            "strokes": drawn,
            "counts": {name: int(row[name]) for name in COUNT_COLUMNS},
            "raw": raw,
            "raw_reason": why,
        }

    def raw_strokes(self, line_id: str) -> tuple[list[list[list[float]]] | None, str]:
        """The line's points as the raw release holds them, before cleaning, or why not."""
        raw = raw_root(self.dataset)
        if raw is None:
            return None, "the build did not record where its raw input was"
        corpus = self.dataset.corpus
        suffix = {"iam-ondb": ".xml", "ink": ".inkml"}.get(corpus)
        if suffix is None:
            return None, f"raw points of {corpus} lines are not read"
        wanted = line_id + suffix
        listed = [
            str(s["path"])
            for s in self.dataset.manifest.get("sources", [])
            if str(s.get("path", "")).rsplit("/", 1)[-1] == wanted
        ]
        if not listed:
            return None, "the raw release is read from archives: no file of this line is listed"
        location = raw.join(listed[0])
        if not location.exists():
            return None, f"{location.url} is not reachable"
        data = location.read_bytes()
        try:
            ink = _read_raw(corpus, data, listed[0], self.dataset.manifest.get("params", {}))
        except GravesDataError as error:
            return None, f"the raw file is unreadable: {error}"
        return ink, ""

    def chunks(self, split: str, offset: int, limit: int) -> dict[str, Any]:
        """Text chunks decoded, each as segments; symbols that map to <unk> are marked."""
        if split not in self.dataset.manifest["splits"]:
            raise NotFound(f"no split {split!r}")
        limit = max(1, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        rows = _read_rows(self.dataset, split, offset, limit)
        return {
            "total": int(self.dataset.manifest["splits"][split]["rows"]),
            "offset": offset,
            "chunks": [
                {"offset": int(r["offset"]), "segments": decode_marked(self.vocab, r)} for r in rows
            ],
        }


def _times(dt: Sequence[float] | None, n: int) -> npt.NDArray[np.float64]:
    if dt is None or len(dt) != n:
        return np.arange(n, dtype=np.float64) / 100.0  # no time: 100 points a second
    return np.cumsum(np.asarray(dt, dtype=np.float64))


def _read_raw(corpus: str, data: bytes, source: str, params: Mapping[str, Any]) -> Any:
    if corpus == "iam-ondb":
        from graves_data.corpora.iam_ondb import parse_stroke_xml

        ink = parse_stroke_xml(data, source)
    else:
        from graves_data.corpora.ink import parse_inkml

        ink = parse_inkml(data, source).to_ink(float(params.get("scale", 1.0)))
    starts = ink.starts()
    return [
        [[float(ink.x[i]), float(ink.y[i])] for i in range(a, b)]
        for a, b in zip(starts, ink.ends, strict=True)
    ]


def raw_root(dataset: Dataset) -> Location | None:
    """Where the build read its raw input: the runner's record of the build's identity (beside
    the dataset; inside it for a dataset graves-data 0.1 built)."""
    record = build_state(dataset.root).join(PLAN_FILE)
    if not record.exists():
        record = dataset.root.join(BUILD_DIR, PLAN_FILE)
    if not record.exists():
        return None
    try:
        raw = read_json(record).get("identity", {}).get("raw")
    except (GravesDataError, AttributeError):
        return None
    if not isinstance(raw, str) or not raw:
        return None
    return resolve(raw)


def _read_rows(dataset: Dataset, split: str, offset: int, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    start = 0
    for shard in dataset.shards(split):
        end = start + shard.rows
        if end > offset and len(out) < limit:
            with dataset.root.join(shard.path).open("rb") as handle:
                table = pq.read_table(handle)
            first = max(0, offset - start)
            out.extend(table.slice(first, limit - len(out)).to_pylist())
        start = end
    return out


def decode_marked(vocab: Vocab, row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[{text, unknown}] runs of a chunk: reserved ids (<unk>) as marked runs."""
    ids = list(row["ids"])[: int(row["length"])]
    segments: list[dict[str, Any]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            text = "".join(run)
            if vocab.kind == "byte":
                text = bytes(ord(c) for c in text).decode("utf-8", errors="replace")
            segments.append({"text": text, "unknown": False})
            run.clear()

    for i in ids:
        symbol = vocab.symbols[i] if 0 <= i < len(vocab) else None
        if symbol is None or symbol in vocab.reserved:
            flush()
            segments.append({"text": symbol or f"<{i}>", "unknown": True})
        else:
            run.append(symbol)
    flush()
    return segments


def load_dataset_entry(name: str, path: str) -> DatasetEntry:
    dataset = open_dataset(path)
    vocab = Vocab.read(dataset.root)
    entry = DatasetEntry(name, dataset, vocab)
    if entry.kind == "text":
        return entry
    for split in dataset.splits:
        for shard in dataset.shards(split):
            with dataset.root.join(shard.path).open("rb") as handle:
                table = pq.read_table(handle, columns=LINE_COLUMNS)
            for row in table.to_pylist():
                line = LineEntry(
                    str(row["line_id"]), split, row["writer_id"], str(row["text"]),
                    int(row["n_points"]), int(row["n_strokes"]), shard.path,
                )  # fmt: skip
                entry.lines.append(line)
                entry.by_id.setdefault(line.line_id, line)
    return entry


@dataclass(frozen=True)
class RunEntry:
    """A trained run named with --run: its config and vocabulary (read without torch)."""

    name: str
    path: Path
    task: str
    vocab: Vocab | None
    config: Mapping[str, Any]

    def summary(self) -> dict[str, Any]:
        symbols = [] if self.vocab is None else [
            s for s in self.vocab.symbols if s not in self.vocab.reserved
        ]  # fmt: skip
        return {
            "name": self.name,
            "task": self.task,
            "symbols": "".join(symbols),
            "model": dict(self.config.get("model", {})),
        }


def load_run_entry(name: str, path: str) -> RunEntry:
    """A run folder's config and vocabulary (models.config and models.cli load without torch)."""
    from graves_data.models.config import CHECKPOINT, RunConfig

    folder = Path(path)
    try:
        config = RunConfig.load(folder)
    except (OSError, GravesDataError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--run {path}: {exc}") from exc
    if not (folder / CHECKPOINT).is_file():
        raise UsageError(f"--run {path}: no {CHECKPOINT} (has this run trained a step yet?)")
    if config.task not in ("handwriting", "synthesis"):
        raise UsageError(f"--run {path}: a {config.task} run; serve samples handwriting")
    vocab = None
    if (folder / VOCAB).is_file():
        try:
            vocab = Vocab.read(resolve(str(folder)))
        except DatasetError as exc:
            raise UsageError(f"--run {path}: {exc}") from exc
    return RunEntry(name, folder, config.task, vocab, config.to_json())


def unique_names(paths: Sequence[str]) -> list[str]:
    """Each folder's own name; a repeated name gets -2, -3..."""
    names: list[str] = []
    for path in paths:
        base = Path(path.rstrip("/")).name or "dataset"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


@dataclass
class Catalog:
    datasets: dict[str, DatasetEntry]
    runs: dict[str, RunEntry]
    ink: Path | None

    def dataset(self, name: str) -> DatasetEntry:
        entry = self.datasets.get(name)
        if entry is None:
            raise NotFound(f"no dataset {name!r}")
        return entry

    def run(self, name: str) -> RunEntry:
        entry = self.runs.get(name)
        if entry is None:
            raise NotFound(f"no run {name!r}")
        return entry


def open_catalog(datasets: Sequence[str], runs: Sequence[str], ink: str | None) -> Catalog:
    """Everything named on the command line, opened (a clear error for what is not usable)."""
    if not datasets and not runs and ink is None:
        raise UsageError("name at least one dataset, --run or --ink folder to serve")
    entries = {}
    for name, path in zip(unique_names(datasets), datasets, strict=True):
        try:
            entries[name] = load_dataset_entry(name, path)
        except DatasetError as error:
            raise UsageError(f"{path}: {error}") from error
    run_entries = {
        name: load_run_entry(name, path)
        for name, path in zip(unique_names(runs), runs, strict=True)
    }
    folder = None
    if ink is not None:
        folder = Path(ink).resolve()
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--ink {ink}: not a folder")
        folder.mkdir(parents=True, exist_ok=True)
    return Catalog(entries, run_entries, folder)
