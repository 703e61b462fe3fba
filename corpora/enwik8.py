"""enwik8: the first 10^8 bytes of an English Wikipedia XML dump (Hutter Prize), as bytes.

Graves (2013, section 3.2) models it byte by byte: "the data contains a total of 205 one-byte
unicode symbols", "the first 96M bytes in the data were evenly split into sequences of 100
bytes and used to train the network, while the remaining 4M were used for validation".

Raw files: the `enwik8` file itself, the release's `enwik8.zip` read in place (its one member
is streamed, never extracted), or a folder holding either.

Splits (`--split`): `paper` (default) is train = first 96%, valid = last 4%; `standard` is
90% / 5% / 5% (train / valid / test), the split most later work reports. On the real file
(10^8 bytes) these are exactly 96M / 4M and 90M / 5M / 5M bytes; any other size gets the same
proportions, and the manifest says so (`text.scaled_splits`).

Known defects, kept as they are: the file is cut mid-page (byte 10^8 falls inside an article),
so it is not well-formed XML, which is why it is only ever read as bytes here; it holds XML
entities (`&lt;`, `&amp;`) and multi-byte UTF-8, counted as the bytes they are.

Units of work are byte ranges aligned to `seq_len` from the split's start, so the rows of a
split are contiguous across units and independent of the worker count. The vocabulary is the
set of bytes of the training split (reserved `<unk>` only where something else would be
unencodable); a counting pass over byte ranges gives it before any shard is written.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from graves_data.archives import (
    ZIP_ERRORS,
    ZIP_MAGIC,
    check_zip_member,
    looks_like_zip,
    one_member,
    zip_files,
)
from graves_data.corpus import CorpusSpec, Generator, OnBadInput, Params, param
from graves_data.download import DownloadSpec, RemoteFile
from graves_data.errors import InputNotFound, NotACorpus, UnreadableArchive, UsageError
from graves_data.manifest import Manifest
from graves_data.pipelines.runner import (
    BadInputPolicy,
    BuildJob,
    Execution,
    SourceFile,
    Span,
    Unit,
    UnitContext,
    UnitInput,
    UnitRows,
    parallel_map,
    run_build,
)
from graves_data.pipelines.text import (
    ChunkRange,
    byte_count_map,
    byte_counts,
    encode_bytes,
    plan_chunk_ranges,
    rows_per_unit,
    text_vocab,
    vocab_id_type,
)
from graves_data.pipelines.textbuild import (
    BackgroundHashes,
    input_stamp,
    prefetched,
    text_card,
    text_rows,
)
from graves_data.schema import text_schema
from graves_data.shards import shard_path
from graves_data.storage import Location, resolve

NAME = "enwik8"
REAL_SIZE = 100_000_000
READ_BLOCK = 8 << 20

SplitScheme = Literal["paper", "standard"]
SPLIT_FRACTIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "paper": (("train", 0.96), ("valid", 0.04)),
    "standard": (("train", 0.90), ("valid", 0.05), ("test", 0.05)),
}


@dataclass(frozen=True)
class Enwik8Params(Params):
    """Build parameters; every field is a CLI option and goes into the manifest."""

    split: SplitScheme = param(
        "paper", "paper: first 96M bytes train, last 4M valid; standard: 90M/5M/5M"
    )
    seq_len: int = param(100, "symbols per row (the paper's sequence length is 100)", ge=1)
    min_count: int = param(1, "bytes seen fewer times in train map to <unk>", ge=1)
    coverage: float = param(
        1.0, "keep the most frequent bytes covering this fraction of train", gt=0, le=1
    )
    shard_mb: float = param(8.0, "millions of symbols per shard (one unit of work)", gt=0)


# ---------------------------------------------------------------------------------------------
# finding the raw file


@dataclass(frozen=True)
class RawSource:
    """The bytes to build from: a plain file, or one member of a zip archive."""

    url: str
    rel: str
    member: str | None
    size: int

    def location(self) -> Location:
        return resolve(self.url)


@dataclass(frozen=True)
class MemberSource(SourceFile):
    """The manifest's entry of an archive input: its checksum, and the member built from."""

    member: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "member": self.member}


def recorded_sources(source: RawSource, hashed: Sequence[SourceFile]) -> list[SourceFile]:
    if source.member is None:
        return list(hashed)
    return [MemberSource(s.path, s.size, s.sha256, source.member) for s in hashed]


def find_raw(raw: Location) -> RawSource:
    """The source: the `enwik8` file, `enwik8.zip`, or a folder holding either."""
    if not raw.exists():
        raise InputNotFound(f"{raw.url}: no such file or folder")
    if raw.is_dir():
        for name in ("enwik8", "enwik8.zip"):
            if raw.join(name).exists():
                return _source(raw.join(name), name)
        raise NotACorpus(f"{raw.url}: no enwik8 or enwik8.zip in this folder")
    return _source(raw, raw.name)


def _source(location: Location, rel: str) -> RawSource:
    """A plain file, or a zip archive (by its name or its first bytes) and its enwik8 member."""
    with location.open("rb") as handle:
        head = handle.read(len(ZIP_MAGIC[0]))
    if not looks_like_zip(rel, head):
        return RawSource(location.url, rel, None, location.size())
    member = _zip_member(location)
    return RawSource(location.url, rel, member.filename, member.file_size)


def _zip_member(location: Location) -> zipfile.ZipInfo:
    """The archive's one enwik8 member (or its only file), checked before any of it is read."""
    files = {info.filename: info for info in zip_files(location)}
    named = [name for name in files if name.rsplit("/", 1)[-1] == NAME]
    only = list(files) if len(files) == 1 else []
    chosen = one_member(named or only, location.url, "the enwik8 file")
    if chosen is None:
        listed = ", ".join(sorted(files)[:5]) or "no files"
        raise NotACorpus(f"{location.url}: no enwik8 member in the archive ({listed})")
    check_zip_member(files[chosen], location.url)
    return files[chosen]


# ---------------------------------------------------------------------------------------------
# splits


@dataclass(frozen=True)
class SplitRange:
    """Bytes [start, stop) of the source form split `name`."""

    name: str
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def split_ranges(size: int, scheme: SplitScheme) -> list[SplitRange]:
    """Contiguous byte ranges per split, in file order, covering the whole file.

    On a file of exactly 10^8 bytes: 96M / 4M (paper) or 90M / 5M / 5M (standard); the same
    proportions otherwise (rounded to whole bytes; the last split takes the remainder).
    """
    if scheme not in SPLIT_FRACTIONS:
        raise UsageError(f"unknown enwik8 split {scheme!r} (known: paper, standard)")
    fractions = SPLIT_FRACTIONS[scheme]
    ranges, start, cumulative = [], 0, 0.0
    for index, (name, fraction) in enumerate(fractions):
        cumulative += fraction
        stop = size if index == len(fractions) - 1 else round(size * cumulative)
        ranges.append(SplitRange(name, start, stop))
        start = stop
    return ranges


def split_notes(size: int, ranges: Sequence[SplitRange]) -> list[str]:
    if size == REAL_SIZE:
        return []
    spelled = ", ".join(f"{r.name} {r.size} bytes" for r in ranges)
    return [
        f"the input has {size} bytes, not enwik8's {REAL_SIZE}: splits keep the "
        f"proportions ({spelled})"
    ]


# ---------------------------------------------------------------------------------------------
# the units


@dataclass(frozen=True)
class ByteRange:
    """What a unit's process function needs beside its span: the offset of its first byte in
    the split, and the bytes themselves where they were decompressed from a zip (the runner
    reads a plain file's span, `Unit.spans`)."""

    first_offset: int
    data: bytes | None = None


def count_range(item: tuple[str, int, int]) -> list[int]:
    """Byte histogram of one range of a plain file (the counting pass, on the workers)."""
    url, start, stop = item
    location = resolve(url)
    counts = np.zeros(256, dtype=np.int64)
    for block_start in range(start, stop, READ_BLOCK):
        counts += byte_counts(location.read_range(block_start, min(stop, block_start + READ_BLOCK)))
    return [int(n) for n in counts]


def iter_member(source: RawSource) -> Iterator[bytes]:
    """The zip member's bytes in blocks, decompressed as a stream (memory: one block)."""
    try:
        with (
            source.location().open("rb") as handle,
            zipfile.ZipFile(handle) as archive,
            archive.open(source.member or "") as member,
        ):
            while block := member.read(READ_BLOCK):
                yield block
    except ZIP_ERRORS as exc:
        raise UnreadableArchive(f"{source.url}: cannot read {source.member} ({exc})") from exc


def count_member(source: RawSource, ranges: Sequence[SplitRange]) -> dict[str, list[int]]:
    """Per-split byte histograms of a zip member: one sequential pass (deflate is serial)."""
    counts = {r.name: np.zeros(256, dtype=np.int64) for r in ranges}
    position = 0
    for block in iter_member(source):
        for r in ranges:
            lo, hi = max(r.start, position), min(r.stop, position + len(block))
            if lo < hi:
                counts[r.name] += byte_counts(block[lo - position : hi - position])
        position += len(block)
    if position != source.size:
        raise UnreadableArchive(f"{source.url}: member {source.member} is truncated")
    return {name: [int(n) for n in c] for name, c in counts.items()}


def process_unit(
    unit: Unit, inputs: UnitInput, ctx: UnitContext[Any], _bad: BadInputPolicy
) -> UnitRows:
    """One byte range (read by the runner; a zip member's came with the unit) -> ids -> rows
    -> one shard."""
    payload: ByteRange = unit.payload
    data = payload.data if payload.data is not None else inputs.span(unit.spans[0])
    encoded = encode_bytes(data, ctx.vocab)
    return text_rows(encoded.ids, payload.first_offset, encoded.unknown, unit, ctx)


@dataclass(frozen=True)
class PlannedUnit:
    split: str
    index: int
    count: int
    start: int
    stop: int
    first_offset: int


def plan_units(ranges: Sequence[SplitRange], seq_len: int, shard_mb: float) -> list[PlannedUnit]:
    """Units in file order: each split's rows divided into shards of whole rows."""
    planned = []
    per_unit = rows_per_unit(shard_mb, seq_len)
    for r in ranges:
        chunks: list[ChunkRange] = plan_chunk_ranges(r.size, seq_len, per_unit)
        for index, chunk in enumerate(chunks):
            planned.append(
                PlannedUnit(
                    r.name,
                    index,
                    len(chunks),
                    r.start + chunk.start,
                    r.start + chunk.stop,
                    chunk.start,
                )
            )
    return planned


def _units(
    planned: Sequence[PlannedUnit], source: RawSource, stamp: tuple[str, int, int]
) -> Iterator[Unit]:
    """The units, with their bytes attached where the source is a zip member.

    A deflated member cannot be read from the middle, so its bytes are decompressed once, in
    order, here; the process pool keeps only a few units in flight, so memory stays per unit.
    """
    blocks = iter_member(source) if source.member is not None else None
    pending = b""
    for p in planned:
        data = None
        if blocks is not None:
            need = p.stop - p.start
            parts, have = [pending], len(pending)
            while have < need:
                block = next(blocks, b"")
                if not block:
                    raise UnreadableArchive(f"{source.url}: member {source.member} is truncated")
                parts.append(block)
                have += len(block)
            joined = b"".join(parts)
            data, pending = joined[:need], joined[need:]
        yield Unit(
            key=f"{p.split}-{p.index:05d}",
            split=p.split,
            shard=shard_path(p.split, p.index, p.count),
            inputs=(stamp,),
            payload=ByteRange(p.first_offset, data),
            spans=() if data is not None else (Span(source.url, p.start, p.stop),),
        )


# ---------------------------------------------------------------------------------------------
# the build


def count_splits(
    source: RawSource, ranges: Sequence[SplitRange], planned: Sequence[PlannedUnit], ex: Execution
) -> dict[str, list[int]]:
    """Per-split byte histograms: in parallel by byte range, or one pass over a zip member."""
    if source.member is not None:
        return count_member(source, ranges)
    items = [(source.url, p.start, p.stop) for p in planned]
    histograms = parallel_map(count_range, items, ex, "count bytes")
    totals = {r.name: [0] * 256 for r in ranges}
    for p, histogram in zip(planned, histograms, strict=True):
        totals[p.split] = [a + b for a, b in zip(totals[p.split], histogram, strict=True)]
    return totals


def build(
    raw: str,
    out: str,
    params: Enwik8Params | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: OnBadInput = "skip",
    overwrite: bool = False,
) -> Manifest:
    """Build enwik8 shards from `raw` (file, zip or folder) into the dataset folder `out`."""
    params = params or Enwik8Params()
    execution = execution or Execution()
    source = find_raw(resolve(raw))
    if source.size == 0:
        raise NotACorpus(f"{source.url}: empty file")
    ranges = split_ranges(source.size, params.split)
    planned = plan_units(ranges, params.seq_len, params.shard_mb)
    hashes = BackgroundHashes([(source.location(), source.rel)])
    counts = count_splits(source, ranges, planned, execution)
    maps = {name: byte_count_map(c) for name, c in counts.items()}
    try:
        vocab = text_vocab(
            maps["train"],
            "byte",
            other_counts=[m for name, m in maps.items() if name != "train"],
            min_count=params.min_count,
            coverage=params.coverage,
        )
    except ValueError as exc:
        raise UsageError(f"cannot build the byte vocabulary: {exc}") from exc
    sources = recorded_sources(source, hashes.result())
    notes = split_notes(source.size, ranges)
    text_section = {
        "vocab_kind": "byte",
        "split_scheme": params.split,
        "split_bytes": {r.name: [r.start, r.stop] for r in ranges},
        "scaled_splits": source.size != REAL_SIZE,
        "distinct_bytes": {name: sum(1 for n in c if n) for name, c in counts.items()},
        "notes": notes,
    }
    job = BuildJob(
        corpus=NAME,
        params=params,
        raw=resolve(raw),  # what the user named: the output may sit beside a raw file
        out=resolve(out),
        schema=text_schema(params.seq_len, vocab_id_type(vocab)),
        vocab=vocab,
        units=prefetched(_units(planned, source, input_stamp(source.location(), source.rel))),
        unit_count=len(planned),
        splits=[r.name for r in ranges],
        process=process_unit,
        sources=sources,
        finalize=lambda _results: {"text": text_section},
        card=text_card(
            "enwik8",
            "The first 10^8 bytes of an English Wikipedia dump, byte by byte, as in Graves "
            "(2013), section 3.2. Text: CC BY-SA (Wikipedia).",
        ),
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    return run_build(job, execution)


# --- where the release is published: `graves-data download enwik8` -----------------------------

# The release is known by its zip's size, 36,445,475 bytes, which is checked; no checksum is
# published for it, so SOURCES.json records the sha256 of what came. `--mirror` replaces the base.
DOWNLOADS = DownloadSpec(
    corpus=NAME,
    base_url="http://mattmahoney.net/dc/",
    files=(RemoteFile("enwik8.zip", "enwik8.zip", size=36_445_475),),
    homepage="http://mattmahoney.net/dc/textdata.html",
    notes="known size checked; no checksum published",
)


def _generator() -> Generator:
    from graves_data.synth.text import Enwik8SynthParams, write_enwik8

    return Generator(Enwik8SynthParams, write_enwik8)


SPEC = CorpusSpec(
    name=NAME,
    summary="enwik8 (first 10^8 bytes of Wikipedia) as byte sequences, the paper's splits",
    params=Enwik8Params,
    build=build,
    generator=_generator,
    downloads=DOWNLOADS,
)
