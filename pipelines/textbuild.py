"""What the three text builds (enwik8, ptb, wikipedia) share on the runner's side.

`pipelines.text` holds the pure transforms; this module is the thin I/O around them that every
text corpus needs alike: stamps and checksums of the inputs, one unit's ids written as one shard,
the manifest's text section and the dataset card. Corpus modules keep only what is theirs:
finding and reading the raw files, and their splits.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy.typing as npt

from graves_data.pipelines.runner import SourceFile, Unit, UnitContext, UnitResult
from graves_data.pipelines.text import chunk_table, id_counts, row_group_rows
from graves_data.shards import ShardWriter, card_splits
from graves_data.storage import Location, resolve

T = TypeVar("T")
HASH_BLOCK = 8 << 20
TRAIN = "train"


def input_stamp(location: Location, rel: str) -> tuple[str, int, int]:
    """(path, size, mtime_ns) of an input: what a unit's resume fingerprint compares."""
    info = location.fs.info(location.path)
    mtime = info.get("mtime", info.get("LastModified", 0))
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return (rel, int(info.get("size", 0)), int(float(mtime or 0) * 1_000_000_000))


def source_file(location: Location, rel: str) -> SourceFile:
    """Size and sha256 of an input, read in blocks (never whole)."""
    digest = hashlib.sha256()
    size = 0
    with location.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return SourceFile(rel, size, digest.hexdigest())


class BackgroundHashes:
    """Checksums of large inputs computed in a thread while the counting pass runs.

    hashlib releases the GIL on large blocks, so hashing a multi-GB dump costs no wall time
    beside a pass that is waiting on its workers anyway.
    """

    def __init__(self, files: Sequence[tuple[Location, str]]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        self._futures: list[Future[SourceFile]] = [
            self._pool.submit(source_file, location, rel) for location, rel in files
        ]

    def result(self) -> list[SourceFile]:
        try:
            return [future.result() for future in self._futures]
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """`items`, produced `depth` ahead in a thread: a serial producer (inflating a zip member,
    which releases the GIL) then overlaps the pool's work instead of alternating with it."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put((True, item))
            box.put((False, None))
        except BaseException as exc:  # handed to the consumer, raised there
            box.put((False, exc))

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            more, value = box.get()
            if not more:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                box.get_nowait()
            worker.join(timeout=0.05)


def write_text_shard(
    ids: npt.NDArray[Any],
    first_offset: int,
    unknown: int,
    unit: Unit,
    ctx: UnitContext,
    quarantine: Sequence[Any] = (),
) -> UnitResult:
    """One unit's ids as one shard; counts symbols for vocab.json where the split is train."""
    seq_len = int(ctx.params["seq_len"])
    table = chunk_table(ids, seq_len, first_offset)
    with ShardWriter(
        resolve(ctx.out_url), unit.shard, ctx.schema, ctx.metadata, row_group_rows(seq_len)
    ) as writer:
        writer.write(table)
    if writer.info is None:
        raise RuntimeError(f"{unit.shard}: shard writer finished without a shard")
    return UnitResult(
        key=unit.key,
        split=unit.split,
        shard=writer.info,
        quarantine=tuple(quarantine),
        totals={"symbols": len(ids), "unknown": unknown},
        symbol_counts=id_counts(ids, ctx.vocab) if unit.split == TRAIN else {},
    )


def text_card(
    title: str, summary: str, notes: Sequence[str] = ()
) -> Callable[[Mapping[str, Any]], str]:
    """The dataset card writer of a text build: Hub YAML naming splits, then provenance."""

    def card(manifest: Mapping[str, Any]) -> str:
        lines = ["---", "configs:", "- config_name: default", "  data_files:"]
        for split in card_splits(manifest):  # a split with no rows has no files to name
            lines += [f"  - split: {split}", f"    path: data/{split}-*"]
        lines += ["---", "", f"# {title}", "", summary, ""]
        lines += ["| split | rows | symbols | unknown |", "| --- | ---: | ---: | ---: |"]
        for split, entry in manifest["splits"].items():
            lines.append(
                f"| {split} | {entry['rows']} | {entry.get('symbols', 0)} "
                f"| {entry.get('unknown', 0)} |"
            )
        text = manifest.get("text", {})
        lines += [
            "",
            f"Rows are {manifest['params']['seq_len']} symbol ids (`ids`), in source order; "
            "`offset` is the position of a row's first symbol in its split, `length` the number "
            "of real symbols (only the last row of a split is shorter; it is padded with 0).",
            f"Vocabulary: {text.get('vocab_kind', '?')} symbols, {manifest['vocab']['size']} ids, "
            "built from the training split only (`vocab.json`, with counts).",
            "",
            "Built by graves-data " + str(manifest["version"]) + " with parameters:",
            "",
            "```json",
            _pretty(manifest["params"]),
            "```",
        ]
        if notes or text.get("notes"):
            lines += ["", "Notes:", ""]
            lines += [f"- {note}" for note in (*notes, *text.get("notes", ()))]
        if manifest["quarantine"]:
            lines += ["", f"{len(manifest['quarantine'])} inputs quarantined (see manifest)."]
        return "\n".join(lines) + "\n"

    return card


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
