"""The scan pass: units of the dump read on the workers, each page's text written to scratch
pieces of its split under `.build/`, and the symbol counts the vocabulary is made from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graves_data.corpora.wikipedia.inventory import Dump
from graves_data.corpora.wikipedia.params import READ_BLOCK, TextMode
from graves_data.corpora.wikipedia.readers import Page, PageScanner, iter_bz2, parse_page
from graves_data.corpus import OnBadInput
from graves_data.errors import BadInput
from graves_data.pipelines.runner import (
    BadInputPolicy,
    Quarantined,
)
from graves_data.pipelines.text import (
    char_counts,
    page_segment,
    wikitext_to_plain,
)
from graves_data.pipelines.textbuild import (
    TRAIN,
)
from graves_data.schema import canonical_json
from graves_data.storage import resolve


def page_split(key: str, seed: int, valid: float, test: float) -> str:
    """train / valid / test for a page, from a seeded hash of its id: stable, order-free."""
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < valid:
        return "valid"
    if u < valid + test:
        return "test"
    return TRAIN


@dataclass(frozen=True)
class PageRules:
    text: TextMode
    namespaces: frozenset[int]
    include_title: bool
    seed: int
    valid: float
    test: float
    splits: tuple[str, ...]
    piece_chars: int


@dataclass(frozen=True)
class ScanTask:
    """Bytes [start, stop) of the stored dump (whole bz2 streams, or a range cut at <page>)."""

    index: int
    dump: Dump
    start: int
    stop: int
    scratch_url: str
    rules: PageRules
    fingerprint: str
    on_bad_input: OnBadInput


@dataclass
class ScanResult:
    index: int
    pieces: list[dict[str, Any]] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    quarantine: list[Quarantined] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pieces": self.pieces,
            "pages": self.pages,
            "skipped": self.skipped,
            "quarantine": [q.to_json() for q in self.quarantine],
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ScanResult:
        return ScanResult(
            int(data["index"]),
            list(data["pieces"]),
            dict(data["pages"]),
            dict(data["skipped"]),
            [Quarantined(**q) for q in data["quarantine"]],
        )


class _PieceWriter:
    """Buffers each split's text of a scan task and writes it out as numbered pieces."""

    def __init__(self, task: ScanTask) -> None:
        self.task = task
        self.scratch = resolve(task.scratch_url)
        self.buffers: dict[str, list[str]] = {s: [] for s in task.rules.splits}
        self.buffered = 0
        self.pieces: list[dict[str, Any]] = []

    def add(self, split: str, segment: str) -> None:
        self.buffers[split].append(segment)
        self.buffered += len(segment)
        if self.buffered >= self.task.rules.piece_chars:
            self.flush()

    def flush(self) -> None:
        if not self.buffered and self.pieces:
            return
        name = f"{self.task.index:05d}-{len(self.pieces):04d}"
        symbols, train_counts = {}, {}
        for split, parts in self.buffers.items():
            text = "".join(parts)
            symbols[split] = len(text)
            if split == TRAIN:
                train_counts = char_counts(text)
            self.scratch.join(f"{name}.{split}.txt").write_atomic(text.encode("utf-8"))
            parts.clear()
        self.pieces.append({"name": name, "symbols": symbols, "train_counts": train_counts})
        self.buffered = 0


def scan_task(task: ScanTask) -> ScanResult:
    """Read one unit of the dump, write its pieces of text, return counts (on a worker)."""
    done = _finished_scan(task)
    if done is not None:
        return done
    result = ScanResult(task.index)
    writer = _PieceWriter(task)
    scanner = PageScanner(task.dump.codec)
    try:
        for block in _read(task):
            for position, data in scanner.feed(block):
                _take_page(task, position, data, writer, result)
    except BadInput as error:
        _bad(task, error, result)
    left = scanner.leftover()
    if left is not None:
        where = f"{task.dump.rel}@{_where(task, left[0])}"
        _bad(task, BadInput(where, "truncated-page", "the file ends inside this page"), result)
    writer.flush()
    result.pieces = writer.pieces
    sidecar = {"fingerprint": task.fingerprint, "result": result.to_json()}
    resolve(task.scratch_url).join(f"{task.index:05d}.json").write_atomic(
        canonical_json(sidecar).encode()
    )
    return result


def _finished_scan(task: ScanTask) -> ScanResult | None:
    """The result of this scan unit from an interrupted earlier run, if all of it is there."""
    scratch = resolve(task.scratch_url)
    sidecar = scratch.join(f"{task.index:05d}.json")
    if not sidecar.exists():
        return None
    try:
        record = json.loads(sidecar.read_bytes())
        if record.get("fingerprint") != task.fingerprint:
            return None
        result = ScanResult.from_json(record["result"])
    except (ValueError, KeyError, TypeError):
        return None
    for piece in result.pieces:
        for split in task.rules.splits:
            if not scratch.join(f"{piece['name']}.{split}.txt").exists():
                return None
    return result


def _read(task: ScanTask) -> Iterator[bytes]:
    """The document bytes of the task's range, decompressed where the dump is bzip2."""
    location = resolve(task.dump.url)
    with location.open("rb") as handle:
        if task.dump.bz2:
            yield from iter_bz2(handle, task.start, task.stop, f"{task.dump.rel}@{task.start}")
            return
        handle.seek(task.start)
        remaining = task.stop - task.start
        while remaining > 0:
            block = handle.read(min(READ_BLOCK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block


def _where(task: ScanTask, position: int) -> str:
    """A page's position for messages: byte offset in a plain file, stream and offset in bz2."""
    if task.dump.bz2:
        return f"stream-{task.start}+{position}"
    return str(task.start + position)


def _bad(task: ScanTask, error: BadInput, result: ScanResult) -> None:
    policy = BadInputPolicy(task.on_bad_input)
    policy.take(error)
    result.quarantine.extend(policy.quarantine)


def _take_page(
    task: ScanTask, position: int, data: bytes, writer: _PieceWriter, result: ScanResult
) -> None:
    rules = task.rules
    source = f"{task.dump.rel}@{_where(task, position)}"
    try:
        page = parse_page(data, task.dump.codec, task.dump.namespaces, source)
        body = _body(page, rules, source)
    except BadInput as error:
        _bad(task, error, result)
        return
    reason = _skip_reason(page, rules, body)
    if reason is not None:
        result.skipped[reason] = result.skipped.get(reason, 0) + 1
        return
    split = page_split(page.page_id or page.title, rules.seed, rules.valid, rules.test)
    result.pages[split] = result.pages.get(split, 0) + 1
    writer.add(split, page_segment(page.title, body or "", rules.include_title))


def _body(page: Page, rules: PageRules, source: str) -> str | None:
    if page.text is None or page.redirect or page.ns not in rules.namespaces:
        return page.text
    if rules.text == "raw":
        return page.text
    try:
        return wikitext_to_plain(page.text)
    except RecursionError as exc:
        raise BadInput(source, "unparsable-wikitext", "wikitext nested too deeply") from exc


def _skip_reason(page: Page, rules: PageRules, body: str | None) -> str | None:
    if page.ns not in rules.namespaces:
        return "namespace"
    if page.redirect:
        return "redirect"
    if body is None:
        return "no-text"
    if not body.strip():
        return "empty"
    return None
