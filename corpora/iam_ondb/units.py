"""One unit of work: a group of forms read, cleaned and written as one shard."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from graves_data.archives import HashingReader, iter_tar
from graves_data.corpora.iam_ondb.params import MAX_COORDINATE, IamParams
from graves_data.corpora.iam_ondb.planning import FormTask, Payload, Plan
from graves_data.corpora.iam_ondb.readers import read_stroke_files
from graves_data.errors import BadInput
from graves_data.pipelines.handwriting import HandwritingRows, LineFields
from graves_data.pipelines.runner import (
    BadInputPolicy,
    SourceFile,
    Unit,
    UnitContext,
    UnitInput,
    UnitRows,
)
from graves_data.pipelines.strokebatch import InkBatch, clean_ink_batch
from graves_data.pipelines.strokes import CleanReport, Ink
from graves_data.schema import canonical_json
from graves_data.shards import shard_path
from graves_data.storage import Location
from graves_data.vocab import count_symbols

# =============================================================================================
# units: a group of forms, one shard


def make_units(plan: Plan, params: IamParams) -> list[Unit]:
    units = []
    for split, forms in plan.forms_by_split.items():
        groups = [
            forms[i : i + params.forms_per_shard]
            for i in range(0, len(forms), params.forms_per_shard)
        ]
        for index, group in enumerate(groups):
            inputs = tuple((f.path, f.size, f.mtime) for form in group for f in form.files)
            strokes = tuple(f.path for form in group for f in form.files)
            units.append(
                Unit(
                    key=f"{split}-{index:05d}",
                    split=split,
                    shard=shard_path(split, index, len(groups)),
                    inputs=inputs,
                    payload=Payload(tuple(group)),
                    stamp=forms_stamp(group),
                    reads=(*originals(group), *strokes),
                )
            )
    return units


def originals(forms: Sequence[FormTask]) -> tuple[str, ...]:
    """The original XML files of `forms` (where the writers come from): read for the sources."""
    return tuple(form.original for form in forms if form.original is not None)


def forms_stamp(forms: Sequence[FormTask]) -> str:
    """Digest of what a unit's rows take from outside its stroke files: each form's aligned
    transcription lines and writer. An edited transcription redoes its unit on a re-run."""
    spec = [[form.form_id, form.writer_id, list(form.texts)] for form in forms]
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def with_archive_bytes(
    units: Sequence[Unit], archive: Location, sources: list[SourceFile]
) -> Iterator[Unit]:
    """Stream the stroke archive once and yield each unit as soon as all its members arrived.

    Memory holds the members of units not yet complete: with the release's sorted archive
    that is about one unit per split. The archive's sha256 is appended to `sources` at the end.
    """
    wanted: dict[str, tuple[int, int]] = {}
    for u, unit in enumerate(units):
        files = [f for form in unit.payload.forms for f in form.files]
        for i, f in enumerate(files):
            wanted[f.path] = (u, i)
    buffers: dict[int, dict[int, bytes]] = {}
    sizes = [sum(len(form.files) for form in unit.payload.forms) for unit in units]
    emitted: set[int] = set()
    with archive.open("rb") as handle:
        reader = HashingReader(handle)
        for member in iter_tar(reader, archive.url):
            slot = wanted.get(member.name)
            if slot is None or member.data is None:
                continue
            u, i = slot
            buffers.setdefault(u, {})[i] = member.data
            if len(buffers[u]) == sizes[u]:
                emitted.add(u)
                yield _attach(units[u], buffers.pop(u))
        reader.drain()
    sources.append(SourceFile(archive.name, reader.size, reader.hexdigest()))
    for u, unit in enumerate(units):
        if u not in emitted:  # a member vanished between listing and reading
            yield _attach(unit, buffers.pop(u, {}))


def _attach(unit: Unit, found: Mapping[int, bytes | None]) -> Unit:
    count = sum(len(form.files) for form in unit.payload.forms)
    data = tuple(found.get(i) for i in range(count))
    # the stroke files came with the archive's bytes: the runner reads only the originals
    return replace(
        unit, payload=Payload(unit.payload.forms, data), reads=originals(unit.payload.forms)
    )


def process_unit(
    unit: Unit, inputs: UnitInput, ctx: UnitContext[IamParams], bad: BadInputPolicy
) -> UnitRows:
    """Clean and encode the lines of one group of forms into the rows of its shard."""
    params = ctx.params
    payload: Payload = unit.payload
    rows = HandwritingRows(keep_time=params.keep_time)
    lines = [
        (form, f, t) for form in payload.forms for f, t in zip(form.files, form.texts, strict=True)
    ]
    datas = [
        payload.data[index] if payload.data is not None else inputs.bytes_of(stroke_file.path)
        for index, (_, stroke_file, _) in enumerate(lines)
    ]
    read = read_lines(datas, [f.path for _, f, _ in lines], params)
    kept: list[LineFields] = []
    cleaned: list[tuple[Ink, CleanReport]] = []
    texts = [
        text for (_, _, text), line in zip(lines, read, strict=True) if isinstance(line, tuple)
    ]
    try:
        ids: Iterator[Any] | None = iter(ctx.vocab.encode_many(texts))
    except ValueError:  # a symbol outside the vocabulary: `encode` raises it below, in order
        ids = None
    for (form, stroke_file, text), line in zip(lines, read, strict=True):
        if isinstance(line, BadInput):
            bad.take(line)
            continue
        encoded = next(ids) if ids is not None else ctx.vocab.encode(text)
        kept.append((stroke_file.line_id, form.form_id, form.writer_id, text, encoded))
        cleaned.append(line)
    rows.add_many(kept, cleaned)
    return UnitRows(
        table=rows.table(),
        row_group_rows=params.row_group_rows,
        totals=rows.totals(),
        symbol_counts=dict(count_symbols(rows.texts)),
    )


def read_lines(
    datas: Sequence[bytes | None], sources: Sequence[str], params: IamParams
) -> list[tuple[Ink, CleanReport] | BadInput]:
    """Stroke files parsed and cleaned, all together; a BadInput for each with nothing usable."""
    present = [i for i, data in enumerate(datas) if data is not None]
    read = read_stroke_files([datas[i] or b"" for i in present], [sources[i] for i in present])
    out: list[tuple[Ink, CleanReport] | BadInput] = [
        BadInput(source, "missing-member", "stroke file listed but missing from the archive")
        for source in sources
    ]
    inks: list[tuple[int, Ink]] = []
    for i, ink in zip(present, read, strict=True):
        if isinstance(ink, BadInput):
            out[i] = ink
        else:
            inks.append((i, ink))
    batch = InkBatch.of([ink for _, ink in inks])
    beyond = batch.lines_beyond(MAX_COORDINATE)
    if beyond.any():  # rare: those lines are refused, the others joined again
        for i, _ in itertools.compress(inks, beyond):
            out[i] = BadInput(
                sources[i],
                "out-of-range",
                f"a coordinate beyond +-{MAX_COORDINATE} board units: a step to it would not fit "
                "the float32 offsets exactly (a real board is under 100,000)",
            )
        inks = list(itertools.compress(inks, ~beyond))
        batch = InkBatch.of([ink for _, ink in inks])
    cleaned = clean_ink_batch(batch, params.clean_params())
    for (i, _), (ink, report) in zip(inks, cleaned, strict=True):
        if ink.n_points == 0:
            out[i] = BadInput(
                sources[i], "no-points", "no pen points left (empty, or all removed as errors)"
            )
        else:
            out[i] = (ink, report)
    return out


def read_line(data: bytes | None, source: str, params: IamParams) -> tuple[Ink, CleanReport]:
    """One stroke file, parsed and cleaned; BadInput if nothing usable is left."""
    line = read_lines([data], [source], params)[0]
    if isinstance(line, BadInput):
        raise line
    return line
