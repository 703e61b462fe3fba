"""Splits and units: the seeded page split, the scan units (bz2 streams or byte ranges cut at
`<page>`), and the write pass's units of whole rows of each split's stream."""

from __future__ import annotations

import bz2
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graves_data.corpora.wikipedia.inventory import Dump
from graves_data.corpora.wikipedia.params import READ_BLOCK, WikipediaParams
from graves_data.corpora.wikipedia.scan import ScanResult
from graves_data.errors import NotACorpus, UsageError
from graves_data.pipelines.runner import (
    Unit,
)
from graves_data.pipelines.text import (
    plan_chunk_ranges,
    rows_per_unit,
)
from graves_data.pipelines.textbuild import (
    TRAIN,
)
from graves_data.shards import shard_path
from graves_data.storage import Location, resolve


def stream_offsets(index: Location, size: int) -> list[int]:
    """Start offsets of the page streams, from the multistream index (`offset:id:title`)."""
    offsets: set[int] = set()
    try:
        with index.open("rb") as raw, bz2.open(raw, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                head, colon, _ = line.partition(":")
                if not colon or not head.isdigit():
                    raise NotACorpus(f"{index.url}:{number}: not an index line (offset:id:title)")
                offsets.add(int(head))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise NotACorpus(f"{index.url}: unreadable multistream index ({exc})") from exc
    ordered = sorted(offsets)
    if ordered and ordered[-1] >= size:
        raise NotACorpus(f"{index.url}: offset {ordered[-1]} lies past the end of the dump")
    return ordered


def bz2_ranges(dump: Dump, target: int) -> list[tuple[int, int]]:
    """Groups of whole bz2 streams of about `target` compressed bytes; one range without index."""
    if dump.index_url is None:
        return [(0, dump.size)]
    starts = [0, *(o for o in stream_offsets(resolve(dump.index_url), dump.size) if o > 0)]
    cuts = [0]
    for offset in starts[1:]:
        if offset - cuts[-1] >= target:
            cuts.append(offset)
    _check_stream_starts(dump, cuts)
    return list(zip(cuts, [*cuts[1:], dump.size], strict=True))


def _check_stream_starts(dump: Dump, offsets: Sequence[int]) -> None:
    with resolve(dump.url).open("rb") as handle:
        for offset in offsets:
            handle.seek(offset)
            if handle.read(3) != b"BZh":
                raise NotACorpus(
                    f"{dump.index_rel}: offset {offset} is not the start of a bz2 stream in "
                    f"{dump.rel} (index of another dump?)"
                )


def xml_ranges(dump: Dump, target: int) -> list[tuple[int, int]]:
    """Byte ranges of a plain .xml dump of about `target` bytes, each cut at a `<page>`."""
    cuts = [0]
    pattern = "<page>".encode(dump.codec.replace("-sig", ""))
    with resolve(dump.url).open("rb") as handle:
        nominal = target
        while nominal < dump.size:
            found = _next_page(handle, nominal, pattern, dump.code_unit)
            if found is None:
                break
            if found > cuts[-1]:
                cuts.append(found)
            nominal = max(found, nominal) + target
    return list(zip(cuts, [*cuts[1:], dump.size], strict=True))


def _next_page(handle: Any, start: int, pattern: bytes, unit: int) -> int | None:
    start -= start % unit
    handle.seek(start)
    carry, base = b"", start
    while block := handle.read(READ_BLOCK):
        data = carry + block
        at = data.find(pattern)
        while at >= 0 and (base + at) % unit:
            at = data.find(pattern, at + 1)
        if at >= 0:
            return int(base + at)
        keep = len(pattern)
        keep += (base + len(data) - keep) % unit
        carry, base = data[-keep:], base + len(data) - keep
    return None


@dataclass(frozen=True)
class PieceSlice:
    """Symbols of one piece file, located in the split's stream."""

    path: str
    start: int
    symbols: int


@dataclass(frozen=True)
class RowsPayload:
    scratch_url: str
    pieces: tuple[PieceSlice, ...]
    start: int
    stop: int


def plan_units(
    results: Sequence[ScanResult],
    splits: Sequence[str],
    params: WikipediaParams,
    scratch_url: str,
    stamps: tuple[tuple[str, int, int], ...],
) -> list[Unit]:
    """Units of whole rows per split, each naming the scratch pieces that hold its symbols."""
    units = []
    per_unit = rows_per_unit(params.shard_mb, params.seq_len)
    for split in splits:
        located, position = [], 0
        for result in results:
            for piece in result.pieces:
                n = int(piece["symbols"].get(split, 0))
                if n:
                    located.append(PieceSlice(f"{piece['name']}.{split}.txt", position, n))
                position += n
        ranges = plan_chunk_ranges(position, params.seq_len, per_unit)
        for i, chunk in enumerate(ranges):
            mine = tuple(
                p for p in located if p.start < chunk.stop and p.start + p.symbols > chunk.start
            )
            units.append(
                Unit(
                    key=f"{split}-{i:05d}",
                    split=split,
                    shard=shard_path(split, i, len(ranges)),
                    inputs=stamps,
                    payload=RowsPayload(scratch_url, mine, chunk.start, chunk.stop),
                )
            )
    return units


def check_params(params: WikipediaParams) -> tuple[str, ...]:
    if params.seq_len < 1:
        raise UsageError(f"--seq-len must be positive, got {params.seq_len}")
    if params.valid_fraction < 0 or params.test_fraction < 0:
        raise UsageError("split fractions must not be negative")
    if params.valid_fraction + params.test_fraction >= 1:
        raise UsageError("valid and test fractions must leave something for train")
    if params.shard_mb <= 0:
        raise UsageError(f"--shard-mb must be positive, got {params.shard_mb}")
    splits = [TRAIN]
    splits += ["valid"] if params.valid_fraction > 0 else []
    splits += ["test"] if params.test_fraction > 0 else []
    return tuple(splits)


def namespace_keys(text: str) -> frozenset[int]:
    try:
        return frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--namespaces takes comma-separated integers, not {text!r}") from None
