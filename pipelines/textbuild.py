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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy.typing as npt

from graves_data.card import dataset_card
from graves_data.manifest import Manifest
from graves_data.pipelines.job import SourceFile, Unit, UnitContext, UnitRows
from graves_data.pipelines.text import chunk_table, id_counts, row_group_rows
from graves_data.schema import strict_json
from graves_data.shards import card_splits
from graves_data.storage import Location, change_stamp

T = TypeVar("T")
HASH_BLOCK = 8 << 20
TRAIN = "train"


def input_stamp(location: Location, rel: str) -> tuple[str, int, int]:
    """(path, size, change stamp) of an input: what a unit's resume fingerprint compares. The
    stamp is `storage.change_stamp`'s, as for every corpus: on an object store the ETag, so a
    file replaced by another of the same size is seen as changed."""
    info = location.fs.info(location.path)
    return (rel, int(info.get("size", 0)), change_stamp(info))


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


def text_rows(
    ids: npt.NDArray[Any], first_offset: int, unknown: int, unit: Unit, ctx: UnitContext[Any]
) -> UnitRows:
    """One unit's ids as the rows of one shard; counts symbols for vocab.json where the split
    is train. `ctx.params` is a text corpus's params, which all have `seq_len`."""
    seq_len = int(ctx.params.seq_len)
    return UnitRows(
        table=chunk_table(ids, seq_len, first_offset),
        row_group_rows=row_group_rows(seq_len),
        totals={"symbols": len(ids), "unknown": unknown},
        symbol_counts=id_counts(ids, ctx.vocab) if unit.split == TRAIN else {},
    )


def text_card(title: str, summary: str, notes: Sequence[str] = ()) -> Callable[[Manifest], str]:
    """The dataset card writer of a text build: Hub YAML naming splits, then provenance."""

    def card(manifest: Manifest) -> str:
        lines = [f"# {title}", "", summary, ""]
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
        return dataset_card(card_splits(manifest), "\n".join(lines))

    return card


def _pretty(value: Any) -> str:
    return strict_json(value, indent=2, sort_keys=True)
