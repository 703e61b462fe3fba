"""Your own handwriting: a folder of W3C InkML files, one text line each.

`graves-data serve --ink DIR` saves what is written on its page here; `graves-data export
inkml` writes any handwriting dataset's lines in the same form; other tools' InkML works too,
as long as it is plain (see `parse_inkml`). `graves-data build ink --raw DIR` builds the folder
into a dataset with IAM-OnDB's schema and contract (the same rows, cleaning, shards, manifest),
so the trainer, `stats`, `verify` and priming take it as they are.

A file, as written here (the channels X, Y and T are required; F, the pen pressure, optional):

    <ink xmlns="http://www.w3.org/2003/InkML">
      <traceFormat>
        <channel name="X" type="integer"/> <channel name="Y" type="integer"/>
        <channel name="T" type="decimal" units="s"/> <channel name="F" type="decimal"/>
      </traceFormat>
      <annotation type="truth">the text written</annotation>
      <annotation type="writer">w01</annotation>
      <trace>120 340 0.000 0.5, 123 342 0.016 0.5, ...</trace>
      ...
    </ink>

The line id is the file's name without `.inkml`; the writer comes from the `writer`
annotation (none where it is absent). Lines go to `train`, except every `valid_every`-th line
in line-id order, which goes to `valid`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt

from graves_data.corpora.iam_ondb import parse_xml, training_moments
from graves_data.corpus import CorpusSpec, param, params_dict
from graves_data.errors import BadInput, InputNotFound, UsageError
from graves_data.pipelines.handwriting import HandwritingRows, normalization
from graves_data.pipelines.runner import (
    BuildJob,
    Execution,
    Quarantined,
    SourceFile,
    Unit,
    UnitContext,
    UnitResult,
    check_no_overlap,
    run_build,
)
from graves_data.pipelines.strokes import CleanParams, Ink, clean
from graves_data.schema import HANDWRITING
from graves_data.shards import VOCAB, ShardWriter, read_json, shard_path
from graves_data.storage import Location, change_stamp, resolve
from graves_data.vocab import Vocab, build_vocab, count_symbols

NAME = "ink"
SUFFIX = ".inkml"
INKML_NS = "http://www.w3.org/2003/InkML"
LINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
REQUIRED = ("X", "Y", "T")
# the largest |coordinate| a line may hold (see iam_ondb.MAX_COORDINATE: float32 offsets)
MAX_COORDINATE = 2**23
MAX_TEXT = 2000
SPLITS = ("train", "valid")


@dataclass(frozen=True)
class InkParams:
    """Build parameters; all of them go into the manifest and each shard's metadata."""

    valid_every: int = param(10, "every n-th line (in line-id order) goes to valid; 0: none")
    scale: float = param(1.0, "X and Y are multiplied by this, then rounded to integer units")
    vocab: str = param(
        "",
        "use this vocab.json (a run's, or a dataset's) instead of one from the lines, so a run "
        "trained with it can be fine-tuned on them (--init-from); other characters map to <unk>",
    )
    gap_factor: float = param(
        2.5, "a time step over this many sampling periods means lost readings"
    )
    max_fill: int = param(
        0, "most readings interpolated into one gap (0: none; a browser loses no readings)"
    )
    spike_threshold: float = param(
        5000.0, "a step longer than this (units) inside a stroke is an error"
    )
    spike_width: int = param(
        2, "runs of at most this many points cut off by over-long steps are dropped"
    )
    keep_time: bool = param(True, "write the dt column (seconds between points)")
    lines_per_shard: int = param(512, "lines per unit of work and per shard")
    row_group_rows: int = param(128, "rows per Parquet row group")

    def clean_params(self) -> CleanParams:
        return CleanParams(self.gap_factor, self.max_fill, self.spike_threshold, self.spike_width)

    def check(self) -> None:
        if self.lines_per_shard < 1 or self.row_group_rows < 1 or self.valid_every < 0:
            raise UsageError("--lines-per-shard, --row-group-rows >= 1 and --valid-every >= 0")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise UsageError("--scale must be a positive number")
        if self.spike_threshold <= 0 or self.gap_factor <= 1 or self.max_fill < 0:
            raise UsageError("--spike-threshold > 0, --gap-factor > 1 and --max-fill >= 0 required")


# =============================================================================================
# InkML: bytes in, a line out; a line in, bytes out (pure; the source is for messages only)


@dataclass(frozen=True)
class InkLine:
    """One line as an InkML file holds it: points per stroke, the text, the writer."""

    text: str
    writer: str | None
    strokes: tuple[npt.NDArray[np.float64], ...]  # each (n, 4): x, y, t (s), pressure (NaN)

    def to_ink(self, scale: float = 1.0) -> Ink:
        """Integer coordinates (X, Y times `scale`, rounded), times in seconds."""
        points = np.concatenate(self.strokes) if self.strokes else np.zeros((0, 4))
        xy = np.rint(points[:, :2] * scale)
        ends = np.cumsum([len(s) for s in self.strokes]).astype(np.int64)
        t = points[:, 2].astype(np.float64)
        return Ink(xy[:, 0].astype(np.int64), xy[:, 1].astype(np.int64), t, ends)


def _local(tag: Any) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and tag.startswith("{") else str(tag)


def parse_inkml(data: bytes, source: str) -> InkLine:
    """A line from InkML bytes: the traces' X, Y, T (and F) channels, and the `truth` text.

    What is read: one `traceFormat` (inside `definitions`/`context` or at the top; the
    channel order it names), `trace` elements (also inside `traceGroup`s) of explicit values.
    Refused, each with its reason (BadInput): not XML or not `<ink>`, a DOCTYPE, no text, no
    X, Y or T channel, difference-encoded values (`'`, `"`), a value that is not a finite
    number, a point with too few values, an empty trace, times that are not seconds.
    """
    root = parse_xml(data, source)
    if _local(root.tag) != "ink":
        raise BadInput(source, "wrong-root", f"root element is <{_local(root.tag)}>, not <ink>")
    channels = _channels(root, source)
    text = _annotation(root, "truth")
    if text is None or not text.strip():
        raise BadInput(source, "no-text", 'no <annotation type="truth"> with the text written')
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        raise BadInput(
            source, "text-too-long", f"text of {len(text)} characters (at most {MAX_TEXT})"
        )
    writer = _annotation(root, "writer")
    traces = [e for e in root.iter() if _local(e.tag) == "trace"]
    if not traces:
        raise BadInput(source, "no-traces", "no <trace> elements")
    strokes = tuple(_trace(t.text or "", channels, source, i) for i, t in enumerate(traces))
    return InkLine(text, (writer or "").strip() or None, strokes)


def _channels(root: Any, source: str) -> list[str]:
    formats = [e for e in root.iter() if _local(e.tag) == "traceFormat"]
    if len(formats) != 1:
        raise BadInput(
            source, "trace-format", f"{len(formats)} <traceFormat> elements (one is read)"
        )
    names = [str(c.get("name", "")) for c in formats[0] if _local(c.tag) == "channel"]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise BadInput(source, "channels", f"no channel {', '.join(missing)} in <traceFormat>")
    for channel in formats[0]:
        if channel.get("name") == "T" and channel.get("units", "s") != "s":
            raise BadInput(source, "time-units", 'channel T is not in seconds (units="s")')
    return names


def _annotation(root: Any, kind: str) -> str | None:
    for element in root:
        if _local(element.tag) == "annotation" and element.get("type") == kind:
            return str(element.text or "")
    return None


def _trace(body: str, channels: list[str], source: str, index: int) -> npt.NDArray[np.float64]:
    if "'" in body or '"' in body:
        raise BadInput(
            source, "trace-encoding", f"trace {index}: difference-encoded values are not read"
        )
    points = [p.split() for p in body.replace("!", " ").split(",") if p.strip()]
    if not points:
        raise BadInput(source, "empty-trace", f"trace {index} has no points")
    width = len(channels)
    if any(len(p) < width for p in points):
        raise BadInput(
            source, "point-values", f"trace {index}: a point has fewer than {width} values"
        )
    try:
        values = np.asarray([p[:width] for p in points], dtype=np.float64)
    except ValueError:
        raise BadInput(source, "non-numeric", f"trace {index}: a value is not a number") from None
    if not np.all(np.isfinite(values)):
        raise BadInput(source, "non-finite", f"trace {index}: a value is NaN or infinite")
    column = {name: i for i, name in enumerate(channels)}
    out = np.full((len(values), 4), np.nan)
    for k, name in enumerate(("X", "Y", "T", "F")):
        if name in column:
            out[:, k] = values[:, column[name]]
    return out


def write_inkml(strokes: Sequence[npt.ArrayLike], text: str, writer: str | None = None) -> bytes:
    """InkML bytes of a line: strokes of (x, y, t[, pressure]) rows, integer x and y."""
    if not text.strip():
        raise UsageError("a line needs its text")
    arrays = [np.asarray(s, dtype=np.float64) for s in strokes]
    arrays = [a.reshape(len(a), -1) for a in arrays]
    has_force = any(a.shape[1] > 3 for a in arrays)
    channels = [
        '<channel name="X" type="integer"/>',
        '<channel name="Y" type="integer"/>',
        '<channel name="T" type="decimal" units="s"/>',
    ]
    if has_force:
        channels.append('<channel name="F" type="decimal" min="0" max="1"/>')
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ink xmlns="{INKML_NS}">',
        "  <traceFormat>",
        *(f"    {c}" for c in channels),
        "  </traceFormat>",
        f'  <annotation type="truth">{escape(text)}</annotation>',
    ]
    if writer:
        parts.append(f'  <annotation type="writer">{escape(writer)}</annotation>')
    for stroke in arrays:
        parts.append(
            f"  <trace>{_trace_text(np.asarray(stroke, dtype=np.float64), has_force)}</trace>"
        )
    parts.append("</ink>")
    return ("\n".join(parts) + "\n").encode("utf-8")


def _trace_text(rows: npt.NDArray[np.float64], has_force: bool) -> str:
    rows = rows.reshape(len(rows), -1)
    out = []
    for row in rows:
        fields = [f"{round(row[0])}", f"{round(row[1])}", _seconds(row[2])]
        if has_force:
            force = row[3] if len(row) > 3 and math.isfinite(row[3]) else 0.5
            fields.append(f"{force:.3f}")
        out.append(" ".join(fields))
    return ", ".join(out)


def _seconds(value: float) -> str:
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def check_line_id(line_id: str) -> str:
    """A line id that is also a safe file name (letters, digits, `.`, `_`, `-`)."""
    if not LINE_ID.match(line_id) or ".." in line_id:
        raise UsageError(
            f"line id {line_id!r}: use letters, digits, '.', '_' and '-' (at most 128)"
        )
    return line_id


# =============================================================================================
# the folder: which files, which split


@dataclass(frozen=True)
class LineFile:
    line_id: str
    path: str  # relative to the raw root
    size: int
    mtime: int


@dataclass(frozen=True)
class Payload:
    files: tuple[LineFile, ...]


def take_inventory(raw: Location) -> tuple[list[LineFile], list[Quarantined]]:
    """The `.inkml` files below `raw` (other files are not ink: they are left alone)."""
    if not raw.exists() or not raw.is_dir():
        raise InputNotFound(f"{raw.url}: no such folder of InkML files")
    files, quarantine = [], []
    seen: dict[str, str] = {}
    for rel in raw.walk_files():
        name = rel.rsplit("/", 1)[-1]
        if not name.endswith(SUFFIX) or name.startswith("."):
            continue
        line_id = name[: -len(SUFFIX)]
        if not LINE_ID.match(line_id):
            quarantine.append(Quarantined(rel, "bad-line-id", f"file name {name!r} is no line id"))
            continue
        if line_id in seen:
            reason = f"line id {line_id} also in {seen[line_id]}"
            quarantine.append(Quarantined(rel, "duplicate-line-id", reason))
            continue
        seen[line_id] = rel
        info = raw.fs.info(raw.join(rel).path)
        files.append(LineFile(line_id, rel, int(info.get("size", 0)), change_stamp(info)))
    if not files and not quarantine:
        raise InputNotFound(f"{raw.url}: no {SUFFIX} files")
    return sorted(files, key=lambda f: f.line_id), quarantine


def assign(files: Sequence[LineFile], valid_every: int) -> dict[str, list[LineFile]]:
    splits: dict[str, list[LineFile]] = {name: [] for name in SPLITS}
    for index, line in enumerate(files):
        last = valid_every and (index + 1) % valid_every == 0
        splits["valid" if last else "train"].append(line)
    return splits


def read_line(data: bytes, source: str, params: InkParams) -> tuple[InkLine, Ink, Any]:
    """One file, parsed and cleaned; BadInput if nothing usable is left."""
    line = parse_inkml(data, source)
    ink = line.to_ink(params.scale)
    if ink.t is not None and ink.n_points and np.isfinite(ink.t[0]):
        # InkML times count from any origin, 0 included; the cleaning reads a time of 0 as a
        # lost one (an IAM-OnDB fault), so the line's times start at 1 s (dt is unchanged)
        ink = Ink(ink.x, ink.y, ink.t - ink.t[0] + 1.0, ink.ends)
    if ink.n_points and max(np.abs(ink.x).max(), np.abs(ink.y).max()) > MAX_COORDINATE:
        raise BadInput(source, "out-of-range", f"a coordinate beyond +-{MAX_COORDINATE} units")
    ink, report = clean(ink, params.clean_params())
    if ink.n_points == 0:
        raise BadInput(source, "no-points", "no pen points left (empty, or all removed as errors)")
    return line, ink, report


def _texts(raw: Location, files: Sequence[LineFile], params: InkParams) -> dict[str, str]:
    """Texts of the lines that parse (for the vocabulary); the units quarantine the rest."""
    texts = {}
    for line in files:
        try:
            texts[line.line_id] = parse_inkml(raw.join(line.path).read_bytes(), line.path).text
        except BadInput:
            continue
    return texts


def _vocab(params: InkParams, train_texts: Sequence[str]) -> Vocab:
    if params.vocab:
        location = resolve(params.vocab)
        if not location.exists():
            raise InputNotFound(f"--vocab {params.vocab}: no such file")
        if location.is_dir():
            location = location.join(VOCAB)
        return Vocab.from_json(read_json(location))
    return build_vocab(count_symbols(train_texts))


def make_units(splits: Mapping[str, list[LineFile]], params: InkParams) -> list[Unit]:
    units = []
    for split, files in splits.items():
        size = params.lines_per_shard
        groups = [files[i : i + size] for i in range(0, len(files), size)]
        for index, group in enumerate(groups):
            units.append(
                Unit(
                    key=f"{split}-{index:05d}",
                    split=split,
                    shard=shard_path(split, index, len(groups)),
                    inputs=tuple((f.path, f.size, f.mtime) for f in group),
                    payload=Payload(tuple(group)),
                )
            )
    return units


def process_unit(unit: Unit, ctx: UnitContext) -> UnitResult:
    """Read, clean and encode one group of lines; write its shard."""
    params = InkParams(**ctx.params)
    raw = resolve(ctx.raw_url)
    rows = HandwritingRows(keep_time=params.keep_time)
    quarantine, sources = [], []
    for file in unit.payload.files:
        data = raw.join(file.path).read_bytes()
        sources.append(SourceFile(file.path, len(data), hashlib.sha256(data).hexdigest()))
        try:
            line, ink, report = read_line(data, file.path, params)
        except BadInput as error:
            if ctx.on_bad_input == "error":
                raise
            quarantine.append(Quarantined.from_error(error))
            continue
        unknown = sorted({c for c in line.text if ctx.vocab.id_of(c) is None})
        if unknown and ctx.vocab.unk_id is None:
            reason = f"characters {''.join(unknown)!r} not in --vocab"
            if ctx.on_bad_input == "error":
                raise BadInput(file.path, "out-of-vocabulary", reason)
            quarantine.append(Quarantined(file.path, "out-of-vocabulary", reason))
            continue
        ids = ctx.vocab.encode(line.text)
        rows.add(file.line_id, file.line_id, line.writer, line.text, ids, ink, report)
    with ShardWriter(
        resolve(ctx.out_url), unit.shard, ctx.schema, ctx.metadata, params.row_group_rows
    ) as writer:
        writer.write(rows.table())
    if writer.info is None:
        raise RuntimeError(f"{unit.shard}: the shard writer wrote nothing")
    return UnitResult(
        key=unit.key,
        split=unit.split,
        shard=writer.info,
        quarantine=tuple(quarantine),
        sources=tuple(sources),
        totals=rows.totals(),
        symbol_counts=dict(count_symbols(rows.texts)),
    )


def build(
    raw: str | Location,
    out: str | Location,
    params: InkParams | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: Literal["error", "skip"] = "skip",
    overwrite: bool = False,
) -> Mapping[str, Any]:
    """Build a folder of InkML lines at `raw` into a handwriting dataset at `out`."""
    params = params or InkParams()
    params.check()
    raw_loc = raw if isinstance(raw, Location) else resolve(raw)
    out_loc = out if isinstance(out, Location) else resolve(out)
    check_no_overlap(raw_loc, out_loc)
    files, quarantine = take_inventory(raw_loc)
    if on_bad_input == "error" and quarantine:
        first = quarantine[0]
        raise BadInput(first.source, first.code, first.reason)
    splits = assign(files, params.valid_every)
    texts = _texts(raw_loc, splits["train"], params)
    vocab = _vocab(params, [texts[f.line_id] for f in splits["train"] if f.line_id in texts])
    units = make_units(splits, params)

    def finalize(results: Sequence[UnitResult]) -> dict[str, Any]:
        return {"normalization": normalization(training_moments(results, "train"), "train")}

    job = BuildJob(
        corpus=NAME,
        params=params_dict(params),
        raw=raw_loc,
        out=out_loc,
        schema=HANDWRITING,
        vocab=vocab,
        units=units,
        unit_count=len(units),
        splits=SPLITS,
        process=process_unit,
        quarantine=quarantine,
        finalize=finalize,
        card=dataset_card,
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    return run_build(job, execution)


def dataset_card(manifest: Mapping[str, Any]) -> str:
    rows = "\n".join(
        f"| {name} | {s['rows']} | {s.get('points', 0)} |" for name, s in manifest["splits"].items()
    )
    return f"""---
pretty_name: Handwriting captured as InkML (graves-data build ink)
tags:
- handwriting
- online-handwriting
---

# InkML lines, cleaned and sharded by graves-data

The same schema as graves-data's IAM-OnDB build: one row per text line, pen offsets
`(dx, dy, end_of_stroke)` (`offsets`), the first point (`origin`), `dt`, the text and what
cleaning changed. {len(manifest["quarantine"])} inputs were left out (see `manifest.json`).

| split | lines | points |
|---|---|---|
{rows}
"""


SPEC = CorpusSpec(
    name=NAME,
    summary="a folder of InkML files, one handwritten text line each (graves-data serve --ink)",
    params=InkParams,
    build=build,
)


# =============================================================================================
# export: any handwriting dataset's lines as InkML


def line_strokes(row: Mapping[str, Any]) -> list[npt.NDArray[np.float64]]:
    """(x, y, t) rows per stroke of a dataset row: origin + cumsum(offsets), t = cumsum(dt)."""
    offsets = np.asarray(row["offsets"], dtype=np.float32).reshape(-1, 3)
    if not len(offsets):
        return []
    steps = offsets[:, :2].astype(np.float64)
    xy = np.asarray(row["origin"], dtype=np.float64) + np.cumsum(steps, axis=0)
    dt = row.get("dt")
    t = (
        np.cumsum(np.asarray(dt, dtype=np.float64))
        if dt is not None and len(dt) == len(offsets)
        else np.arange(len(offsets), dtype=np.float64) / 100.0
    )
    points = np.column_stack([xy, t])
    ends = np.flatnonzero(offsets[:, 2] > 0.5) + 1
    if not len(ends) or ends[-1] != len(offsets):
        ends = np.append(ends, len(offsets))
    starts = np.concatenate([[0], ends[:-1]])
    return [points[a:b] for a, b in zip(starts, ends, strict=True) if b > a]


def iter_rows(dataset: Any) -> Iterator[dict[str, Any]]:
    columns = ["line_id", "writer_id", "text", "offsets", "origin", "dt"]
    for split in dataset.splits:
        for batch in dataset.iter_batches(split, columns=columns, batch_size=256):
            yield from batch.to_pylist()


def export_inkml(dataset_path: str, out: str) -> int:
    """Write each line of a handwriting dataset as `OUT/<line_id>.inkml`; return the count."""
    from graves_data.shards import open_dataset

    dataset = open_dataset(dataset_path)
    if dataset.manifest.get("kind") == "text":
        raise UsageError(f"{dataset_path}: a text dataset has no handwriting to export")
    target = resolve(out)
    target.makedirs()
    count = 0
    for row in iter_rows(dataset):
        line_id = check_line_id(str(row["line_id"]))
        data = write_inkml(line_strokes(row), str(row["text"]), row.get("writer_id"))
        target.join(line_id + SUFFIX).write_atomic(data)
        count += 1
    return count
