"""A folder of InkML lines: its inventory, splits, units of work, the whole build and card.

The runner reads and hashes each unit's files (`Unit.reads`), applies `--on-bad-input` and
writes the shards; `process_unit` turns one unit's bytes into rows. The vocabulary comes from
the texts of the training lines (a pass that reads them before any unit runs, on the build's
executor), or from `--vocab`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graves_data import card
from graves_data.corpora.iam_ondb.build import training_moments
from graves_data.corpora.ink.inkml import InkLine, parse_inkml
from graves_data.corpora.ink.params import (
    LINE_ID,
    MAX_COORDINATE,
    MAX_INKML_BYTES,
    NAME,
    SPLITS,
    SUFFIX,
    InkParams,
)
from graves_data.corpus import CorpusSpec, OnBadInput
from graves_data.errors import BadInput, InputNotFound
from graves_data.manifest import Manifest, Normalization
from graves_data.pipelines.handwriting import HandwritingRows
from graves_data.pipelines.runner import (
    BadInputPolicy,
    BuildJob,
    Execution,
    Unit,
    UnitContext,
    UnitInput,
    UnitResult,
    UnitRows,
    check_no_overlap,
    parallel_map,
    run_build,
)
from graves_data.pipelines.strokes import CleanReport, Ink, clean
from graves_data.schema import HANDWRITING
from graves_data.shards import card_splits, read_json, shard_path
from graves_data.storage import Location, change_stamp, resolve
from graves_data.vocab import Vocab, build_vocab, count_symbols

# =============================================================================================
# the folder: which files, which split, which units


@dataclass(frozen=True)
class LineFile:
    line_id: str
    path: str  # relative to the raw root
    size: int
    mtime: int


@dataclass(frozen=True)
class Payload:
    files: tuple[LineFile, ...]


def take_inventory(raw: Location, bad: BadInputPolicy) -> list[LineFile]:
    """The `.inkml` files below `raw`, in line-id order (other files are not ink: left alone).

    A file whose name is no line id, a second file of a line id, a file over MAX_INKML_BYTES
    and an entry that is not a regular file (a link, a FIFO) go to `bad`."""
    if not raw.exists() or not raw.is_dir():
        raise InputNotFound(f"{raw.url}: no such folder of InkML files")
    listed, passed = raw.walk_entries()
    for entry in passed:
        bad.take(BadInput(entry.path, entry.code, entry.reason))
    files: list[LineFile] = []
    seen: dict[str, str] = {}
    for rel in listed:
        name = rel.rsplit("/", 1)[-1]
        if not name.endswith(SUFFIX) or name.startswith("."):
            continue
        line_id = name[: -len(SUFFIX)]
        if not LINE_ID.match(line_id):
            bad.take(BadInput(rel, "bad-line-id", f"file name {name!r} is no line id"))
            continue
        if line_id in seen:
            reason = f"line id {line_id} also in {seen[line_id]}"
            bad.take(BadInput(rel, "duplicate-line-id", reason))
            continue
        info = raw.fs.info(raw.join(rel).path)
        size = int(info.get("size", 0))
        if size > MAX_INKML_BYTES:
            reason = f"{size:,} bytes: over the {MAX_INKML_BYTES:,}-byte limit of a line; not read"
            bad.take(BadInput(rel, "too-large", reason))
            continue
        seen[line_id] = rel
        files.append(LineFile(line_id, rel, size, change_stamp(info)))
    if not files and not bad.quarantine:
        raise InputNotFound(f"{raw.url}: no {SUFFIX} files")
    return sorted(files, key=lambda f: f.line_id)


def assign(files: Sequence[LineFile], valid_every: int) -> dict[str, list[LineFile]]:
    """Every `valid_every`-th line in line-id order to valid, the others to train."""
    splits: dict[str, list[LineFile]] = {name: [] for name in SPLITS}
    for index, line in enumerate(files):
        last = valid_every and (index + 1) % valid_every == 0
        splits["valid" if last else "train"].append(line)
    return splits


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
                    reads=tuple(f.path for f in group),
                )
            )
    return units


# =============================================================================================
# the vocabulary: the training lines' texts, or --vocab


def group_texts(item: tuple[str, tuple[str, ...]]) -> list[str | None]:
    """The texts of a group of files (None for a file that does not parse: its unit
    quarantines it). Module level, for the build's executor."""
    raw = resolve(item[0])
    texts: list[str | None] = []
    for path in item[1]:
        try:
            texts.append(parse_inkml(raw.join(path).read_bytes(), path).text)
        except BadInput:
            texts.append(None)
    return texts


def make_vocab(
    raw: Location, units: Sequence[Unit], params: InkParams, execution: Execution
) -> Vocab:
    if params.vocab:
        location = resolve(params.vocab)
        if not location.exists():
            raise InputNotFound(f"--vocab {params.vocab}: no such file")
        return Vocab.read(location) if location.is_dir() else Vocab.from_json(read_json(location))
    items = [(raw.url, unit.reads) for unit in units if unit.split == "train"]
    found = parallel_map(group_texts, items, execution, "read texts")
    return build_vocab(count_symbols(text for texts in found for text in texts if text))


# =============================================================================================
# one unit: bytes -> rows


def read_line(data: bytes, source: str, params: InkParams) -> tuple[InkLine, Ink, CleanReport]:
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


def process_unit(
    unit: Unit, inputs: UnitInput, ctx: UnitContext[InkParams], bad: BadInputPolicy
) -> UnitRows:
    """Parse, clean and encode one group of lines into the rows of its shard."""
    params = ctx.params
    payload: Payload = unit.payload
    rows = HandwritingRows(keep_time=params.keep_time)
    for file in payload.files:
        try:
            line, ink, report = read_line(inputs.bytes_of(file.path), file.path, params)
        except BadInput as error:
            bad.take(error)
            continue
        unknown = sorted({c for c in line.text if ctx.vocab.id_of(c) is None})
        if unknown and ctx.vocab.unk_id is None:
            reason = f"characters {''.join(unknown)!r} not in --vocab"
            bad.take(BadInput(file.path, "out-of-vocabulary", reason))
            continue
        ids = ctx.vocab.encode(line.text)
        rows.add(file.line_id, file.line_id, line.writer, line.text, ids, ink, report)
    return UnitRows(
        table=rows.table(),
        row_group_rows=params.row_group_rows,
        totals=rows.totals(),
        symbol_counts=dict(count_symbols(rows.texts)),
    )


# =============================================================================================
# the whole build


def build(
    raw: str | Location,
    out: str | Location,
    params: InkParams | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: OnBadInput = "skip",
    overwrite: bool = False,
) -> Manifest:
    """Build a folder of InkML lines at `raw` into a handwriting dataset at `out`."""
    params = params or InkParams()
    execution = execution or Execution()
    raw_loc = raw if isinstance(raw, Location) else resolve(raw)
    out_loc = out if isinstance(out, Location) else resolve(out)
    check_no_overlap(raw_loc, out_loc)
    policy = BadInputPolicy(on_bad_input)
    files = take_inventory(raw_loc, policy)
    units = make_units(assign(files, params.valid_every), params)
    vocab = make_vocab(raw_loc, units, params, execution)

    def finalize(results: Sequence[UnitResult]) -> dict[str, Any]:
        moments = training_moments(results, "train")
        return {"normalization": Normalization.from_moments(moments, "train").to_json()}

    job = BuildJob(
        corpus=NAME,
        params=params,
        raw=raw_loc,
        out=out_loc,
        schema=HANDWRITING,
        vocab=vocab,
        units=units,
        unit_count=len(units),
        splits=SPLITS,
        process=process_unit,
        quarantine=policy.quarantine,
        finalize=finalize,
        card=dataset_card,
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    return run_build(job, execution)


def dataset_card(manifest: Manifest) -> str:
    rows = "\n".join(
        f"| {name} | {s['rows']} | {s.get('points', 0)} |" for name, s in manifest["splits"].items()
    )
    return card.dataset_card(
        card_splits(manifest),  # a split with no rows has no files to name
        metadata=(
            "pretty_name: Handwriting captured as InkML (graves-data build ink)",
            "tags:",
            "- handwriting",
            "- online-handwriting",
        ),
        body=f"""# InkML lines, cleaned and sharded by graves-data

The same schema as graves-data's IAM-OnDB build: one row per text line, pen offsets
`(dx, dy, end_of_stroke)` (`offsets`), the first point (`origin`), `dt`, the text and what
cleaning changed. {len(manifest["quarantine"])} inputs were left out (see `manifest.json`).

| split | lines | points |
|---|---|---|
{rows}
""",
    )


SPEC = CorpusSpec(
    name=NAME,
    summary="a folder of InkML files, one handwritten text line each (graves-data serve --ink)",
    params=InkParams,
    build=build,
)
