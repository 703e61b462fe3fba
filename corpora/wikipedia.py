"""Wikipedia XML dumps (pages-articles), streamed page by page into character sequences.

Raw files: a dump as `.xml` or `.xml.bz2` (one bzip2 stream, or a multistream dump), or a
folder holding one. With the multistream index (`--index ...-multistream-index.txt.bz2`, found
by itself in a folder) the dump is read in parallel by bz2 stream; without it a `.bz2` dump is
read in one sequential pass, and a plain `.xml` in parallel by byte ranges cut at `<page>`.
Nothing is ever decompressed or read whole: memory is bounded by one unit of work.

What is read, and what is left out (and counted in the manifest's `text` section):

- export schema versions 0.3 (enwik8's) to 0.11: `<ns>` where the version has it, else the
  namespace from the title's prefix and the `<siteinfo>` namespaces; the last revision's text;
- UTF-8 (with or without BOM) and BOM-marked UTF-16, detected from the document's first bytes;
- `--namespaces 0` (default) keeps articles; other namespaces are counted as `namespace`;
- redirects (`<redirect/>`, or text starting `#REDIRECT` as in 0.3 dumps) are counted, left out;
- pages with no text after extraction are counted as `empty`;
- a page the file ends inside (a dump cut mid-page, as enwik8 is), a page that is not
  well-formed XML, or not in the document's encoding, is a `BadInput`: quarantined with its
  reason under `--on-bad-input skip`, an error under `error`.

Text: `--text raw` keeps the wikitext as the dump holds it (markup and all, like enwik8);
`--text plain` removes the markup (`pipelines.text.wikitext_to_plain`). Each page is a title
line, a blank line, the body and a blank line (`--no-include-title` drops the title).

Splits are by page: a seeded hash of the page id puts each page in train, valid or test, so no
page is in two splits and the split does not depend on where a page sits in the file.

The build has two passes. The scan pass reads units of the dump (groups of bz2 streams, or
byte ranges) on the workers, writes each split's text to scratch pieces under `.build/`, and
returns symbol counts; from the training counts comes the vocabulary. The units of the write
pass are then ranges of whole rows of each split's stream, planned from the totals alone: the
rows, and so the shards, are the same with or without the index and for any worker count.
"""

from __future__ import annotations

import bz2
import codecs
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
from lxml import etree

from graves_data.corpus import CorpusSpec, OnBadInput, Params, param, params_dict
from graves_data.download import WIKIMEDIA_DUMPS, DownloadSpec, wikimedia_dump_files
from graves_data.errors import BadInput, InputNotFound, NotACorpus, UsageError
from graves_data.pipelines.runner import (
    BuildJob,
    Execution,
    Quarantined,
    Unit,
    UnitContext,
    UnitResult,
    begin_build,
    parallel_map,
    run_build,
)
from graves_data.pipelines.text import (
    add_counts,
    char_counts,
    char_table,
    encode_chars,
    page_segment,
    plan_chunk_ranges,
    rows_per_unit,
    text_vocab,
    vocab_id_type,
    wikitext_to_plain,
)
from graves_data.pipelines.textbuild import (
    TRAIN,
    BackgroundHashes,
    input_stamp,
    text_card,
    write_text_shard,
)
from graves_data.schema import canonical_json, text_schema
from graves_data.shards import BUILD_DIR, shard_path
from graves_data.storage import Location, resolve
from graves_data.synth.text import DumpSynthParams, write_dump
from graves_data.vocab import Vocab

NAME = "wikipedia"
SCRATCH = "wikipedia"
READ_BLOCK = 1 << 20
HEAD_BYTES = 4 << 20
# bz2 compresses wikitext about 4:1; a scan unit of bz2 streams targets this share of shard_mb
BZ2_RATIO = 4
TextMode = Literal["raw", "plain"]
_REDIRECT = re.compile(r"^\s*#REDIRECT\b", re.IGNORECASE)
_ROOT = re.compile(r"<mediawiki\b([^>]*)>")
_VERSION = re.compile(r"""\bversion\s*=\s*["']([0-9.]+)["']""")
_SITEINFO = re.compile(r"<siteinfo>.*?</siteinfo>", re.DOTALL)
_DECLARED = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


@dataclass(frozen=True)
class WikipediaParams(Params):
    """Build parameters; every field is a CLI option and goes into the manifest."""

    index: str | None = param(None, "multistream index (.txt.bz2): read the dump in parallel")
    text: TextMode = param("raw", "raw: wikitext as in the dump (as enwik8); plain: no markup")
    namespaces: str = param("0", "namespace keys to keep, comma-separated (0: articles)")
    include_title: bool = param(True, "start each page with a title line")
    valid_fraction: float = param(0.02, "share of pages in valid")
    test_fraction: float = param(0.02, "share of pages in test")
    seed: int = param(0, "seed of the page split")
    seq_len: int = param(100, "symbols per row")
    min_count: int = param(1, "characters seen fewer times in train map to <unk>")
    coverage: float = param(1.0, "keep the most frequent characters covering this fraction")
    shard_mb: float = param(
        16.0,
        "millions of symbols per shard (and per scan unit); a worker's memory grows with it: "
        "about 0.8 GB at 16, 2.5 GB at 64",
    )


# ---------------------------------------------------------------------------------------------
# the dump


@dataclass(frozen=True)
class Dump:
    """A dump file and what its head says: encoding, export version, namespaces."""

    url: str
    rel: str
    size: int
    bz2: bool
    codec: str
    version: str
    namespaces: Mapping[str, int]
    index_url: str | None = None
    index_rel: str | None = None

    @property
    def code_unit(self) -> int:
        return 2 if self.codec.startswith("utf-16") else 1


def find_dump(raw: Location, index: str | None) -> tuple[Location, Location, Location | None]:
    """(raw root, dump file, index file or None) from a dump file or a folder holding one."""
    if not raw.exists():
        raise InputNotFound(f"{raw.url}: no such file or folder")
    index_location = resolve(index) if index else None
    if index_location is not None and not index_location.exists():
        raise InputNotFound(f"{index_location.url}: no such index file")
    if not raw.is_dir():
        return raw.parent(), raw, index_location
    files = list(raw.walk_files())
    dumps = [f for f in files if f.endswith((".xml", ".xml.bz2")) and "/" not in f]
    if len(dumps) != 1:
        what = "no" if not dumps else f"{len(dumps)}"
        raise NotACorpus(f"{raw.url}: {what} .xml or .xml.bz2 dumps in this folder; name one")
    if index_location is None:
        indexes = [f for f in files if f.endswith("-index.txt.bz2") and "/" not in f]
        if len(indexes) == 1 and dumps[0].endswith("multistream.xml.bz2"):
            index_location = raw.join(indexes[0])
    return raw, raw.join(dumps[0]), index_location


def _rel(location: Location, root: Location) -> str:
    prefix = root.path.rstrip("/") + "/"
    return location.path[len(prefix) :] if location.path.startswith(prefix) else location.url


def read_head(location: Location, is_bz2: bool, limit: int = HEAD_BYTES) -> bytes:
    """The first `limit` bytes of the document (decompressed where it is bzip2)."""
    with location.open("rb") as handle:
        if not is_bz2:
            data: bytes = handle.read(limit)
            return data
        parts, size = [], 0
        for block in iter_bz2(handle, 0, location.size(), location.url):
            parts.append(block)
            size += len(block)
            if size >= limit:
                break
        return b"".join(parts)[:limit]


def detect_codec(head: bytes) -> tuple[str, int]:
    """(codec, BOM length) from the document's first bytes."""
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head[:2] == b"<\x00":
        return "utf-16-le", 0
    if head[:2] == b"\x00<":
        return "utf-16-be", 0
    declared = _DECLARED.match(head)
    if declared is not None:
        name = declared.group(1).decode("ascii").lower()
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            raise NotACorpus(f"the dump declares an unknown encoding {name!r}") from None
        if codec.startswith("utf-16") or codec.startswith("utf-32"):
            raise NotACorpus(f"the dump declares {name} but has no byte order mark")
        return codec, 0
    return "utf-8", 0


def parse_head(head: bytes, url: str) -> tuple[str, str, dict[str, int]]:
    """(codec, export version, namespace name -> key) of a dump; NotACorpus if not one."""
    codec, bom = detect_codec(head)
    text = codecs.getincrementaldecoder(codec)(errors="replace").decode(head[bom:], final=False)
    root = _ROOT.search(text[: 1 << 16])
    if root is None:
        raise NotACorpus(f"{url}: not a MediaWiki XML export (no <mediawiki> root element)")
    version = _VERSION.search(root.group(1))
    siteinfo = _SITEINFO.search(text)
    return codec, version.group(1) if version else "unknown", _namespaces(siteinfo, url)


def _namespaces(siteinfo: re.Match[str] | None, url: str) -> dict[str, int]:
    if siteinfo is None:
        return {}
    try:
        element = etree.fromstring(siteinfo.group(0), _parser())
    except etree.XMLSyntaxError as exc:
        raise NotACorpus(f"{url}: unreadable <siteinfo> ({exc})") from exc
    names = {}
    for namespace in element.iter(_local("namespace")):
        key = namespace.get("key")
        if key is not None and key.lstrip("-").isdigit() and namespace.text:
            names[namespace.text.strip()] = int(key)
    return names


def _local(name: str) -> Any:
    """Match an element by local name whatever its XML namespace."""
    return "{*}" + name


def _parser() -> etree.XMLParser:
    """XML parsing with entity expansion, DTD loading and network access off."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def open_dump(raw: Location, index: str | None) -> Dump:
    root, location, index_location = find_dump(raw, index)
    is_bz2 = location.path.endswith(".bz2")
    head = read_head(location, is_bz2)
    if not head:
        raise NotACorpus(f"{location.url}: empty file")
    codec, version, namespaces = parse_head(head, location.url)
    dump = Dump(
        url=location.url,
        rel=_rel(location, root),
        size=location.size(),
        bz2=is_bz2,
        codec=codec,
        version=version,
        namespaces=namespaces,
        index_url=index_location.url if index_location else None,
        index_rel=_rel(index_location, root) if index_location else None,
    )
    if dump.index_url is not None and not dump.bz2:
        raise UsageError("--index goes with a multistream .xml.bz2 dump, not a plain .xml file")
    return dump


# ---------------------------------------------------------------------------------------------
# reading: bz2 streams, page boundaries, pages


def iter_bz2(handle: Any, start: int, stop: int, label: str) -> Iterator[bytes]:
    """Decompressed bytes of bytes [start, stop) of a bzip2 file: one stream or many."""
    handle.seek(start)
    remaining = stop - start
    decompressor = bz2.BZ2Decompressor()
    started = False
    while remaining > 0:
        block = handle.read(min(READ_BLOCK, remaining))
        if not block:
            break
        remaining -= len(block)
        while block:
            try:
                out = decompressor.decompress(block)
            except OSError as exc:
                raise BadInput(label, "corrupt-bz2", f"not a valid bzip2 stream ({exc})") from exc
            started = True
            if out:
                yield out
            if decompressor.eof:
                block = decompressor.unused_data
                decompressor = bz2.BZ2Decompressor()
                started = False
            else:
                block = b""
    if started and not decompressor.eof:
        raise BadInput(label, "truncated-bz2", "the bzip2 stream ends early (file cut short)")


class PageScanner:
    """Cuts a byte stream into whole `<page>...</page>` elements, in the dump's encoding.

    Works on bytes, never parses the document as a whole (so a file cut mid-page, or text
    around the pages, is no problem); a match must sit on a code-unit boundary (UTF-16).
    """

    def __init__(self, codec: str) -> None:
        plain = codec.replace("-sig", "")
        self.open = "<page>".encode(plain)
        self.close = "</page>".encode(plain)
        self.unit = 2 if plain.startswith("utf-16") else 1
        self.buffer = b""
        self.base = 0  # stream position of buffer[0]

    def _find(self, pattern: bytes, start: int) -> int:
        while True:
            at = self.buffer.find(pattern, start)
            if at < 0 or (self.base + at) % self.unit == 0:
                return at
            start = at + 1

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Whole pages completed by `data`, with their positions in the stream."""
        self.buffer += data
        pages, cursor = [], 0
        while True:
            begin = self._find(self.open, cursor)
            if begin < 0:
                cursor = max(cursor, len(self.buffer) - len(self.open) - self.unit)
                cursor -= (self.base + cursor) % self.unit
                break
            end = self._find(self.close, begin + len(self.open))
            if end < 0:
                cursor = begin
                break
            end += len(self.close)
            pages.append((self.base + begin, self.buffer[begin:end]))
            cursor = end
        self.buffer = self.buffer[cursor:]
        self.base += cursor
        return pages

    def leftover(self) -> tuple[int, bytes] | None:
        """The start of a page the stream ended inside, if any."""
        begin = self._find(self.open, 0)
        return None if begin < 0 else (self.base + begin, self.buffer[begin:])


@dataclass(frozen=True)
class Page:
    title: str
    ns: int
    page_id: str | None
    redirect: bool
    text: str | None


def parse_page(data: bytes, codec: str, namespaces: Mapping[str, int], source: str) -> Page:
    """One `<page>` element -> its title, namespace, id, redirect flag and last text."""
    try:
        markup = data.decode(codec.replace("-sig", ""))
    except UnicodeDecodeError as exc:
        raise BadInput(source, "bad-encoding", f"page is not valid {codec} ({exc.reason})") from exc
    try:
        page = etree.fromstring(markup, _parser())
    except etree.XMLSyntaxError as exc:
        raise BadInput(source, "malformed-page", f"page is not well-formed XML ({exc})") from exc
    title = page.findtext(_local("title")) or ""
    ns_text = page.findtext(_local("ns"))
    revisions = page.findall(_local("revision"))
    text_element = revisions[-1].find(_local("text")) if revisions else None
    text = None if text_element is None else (text_element.text or "")
    redirect = page.find(_local("redirect")) is not None or bool(text and _REDIRECT.match(text))
    return Page(
        title=title,
        ns=int(ns_text)
        if ns_text and ns_text.strip().lstrip("-").isdigit()
        else _ns(title, namespaces),
        page_id=page.findtext(_local("id")),
        redirect=redirect,
        text=text,
    )


def _ns(title: str, namespaces: Mapping[str, int]) -> int:
    """The namespace of a title from its prefix, for dumps without `<ns>` (0.3 .. 0.5)."""
    prefix, colon, _ = title.partition(":")
    return namespaces.get(prefix, 0) if colon else 0


def page_split(key: str, seed: int, valid: float, test: float) -> str:
    """train / valid / test for a page, from a seeded hash of its id: stable, order-free."""
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < valid:
        return "valid"
    if u < valid + test:
        return "test"
    return TRAIN


# ---------------------------------------------------------------------------------------------
# the scan pass


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
    if task.on_bad_input == "error":
        raise error
    result.quarantine.append(Quarantined.from_error(error))


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


# ---------------------------------------------------------------------------------------------
# planning the scan


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


# ---------------------------------------------------------------------------------------------
# the write pass


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


def process_unit(unit: Unit, ctx: UnitContext) -> UnitResult:
    """Symbols [start, stop) of a split, gathered from the scan's pieces -> one shard."""
    payload: RowsPayload = unit.payload
    scratch = resolve(payload.scratch_url)
    parts = []
    for piece in payload.pieces:
        text = scratch.join(piece.path).read_bytes().decode("utf-8")
        if len(text) != piece.symbols:
            raise NotACorpus(f"{piece.path}: scratch piece changed since the scan; build again")
        lo = max(payload.start, piece.start) - piece.start
        hi = min(payload.stop, piece.start + piece.symbols) - piece.start
        parts.append(text[lo:hi])
    encoded = encode_chars("".join(parts), char_table(ctx.vocab))
    return write_text_shard(encoded.ids, payload.start, encoded.unknown, unit, ctx)


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


# ---------------------------------------------------------------------------------------------
# the build


def _check(params: WikipediaParams) -> tuple[str, ...]:
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


def build(
    raw: str,
    out: str,
    params: WikipediaParams | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: OnBadInput = "skip",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build character shards of a Wikipedia dump `raw` (file or folder) into `out`."""
    params = params or WikipediaParams()
    execution = execution or Execution()
    splits = _check(params)
    dump = open_dump(resolve(raw), params.index)
    target = max(1, round(params.shard_mb * 1_000_000))
    ranges = bz2_ranges(dump, max(1, target // BZ2_RATIO)) if dump.bz2 else xml_ranges(dump, target)
    files = [(resolve(dump.url), dump.rel)]
    if dump.index_url is not None:
        files.append((resolve(dump.index_url), dump.index_rel or dump.index_url))
    stamps = tuple(input_stamp(location, rel) for location, rel in files)
    job = BuildJob(
        corpus=NAME,
        params=params_dict(params),
        raw=resolve(raw),  # what the user named: the output may sit beside a raw file
        out=resolve(out),
        schema=text_schema(params.seq_len, pa.uint16()),
        vocab=Vocab("char", (), ()),
        units=[],
        unit_count=0,
        splits=splits,
        process=process_unit,
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    folder = begin_build(job)
    scratch_url = folder.join(BUILD_DIR, SCRATCH).url
    rules = PageRules(
        text=params.text,
        namespaces=namespace_keys(params.namespaces),
        include_title=params.include_title,
        seed=params.seed,
        valid=params.valid_fraction,
        test=params.test_fraction,
        splits=splits,
        piece_chars=target,
    )
    fingerprint = hashlib.sha256(
        canonical_json({"params": params_dict(params), "stamps": stamps}).encode()
    ).hexdigest()
    tasks = [
        ScanTask(i, dump, a, b, scratch_url, rules, fingerprint, on_bad_input)
        for i, (a, b) in enumerate(ranges)
    ]
    hashes = BackgroundHashes(files)
    results: list[ScanResult] = parallel_map(scan_task, tasks, execution, "scan pages")
    train_counts: dict[str, int] = {}
    for result in results:
        for piece in result.pieces:
            add_counts(train_counts, piece["train_counts"])
    try:
        vocab = text_vocab(
            train_counts,
            "char",
            min_count=params.min_count,
            coverage=params.coverage,
            always_unk=True,
        )
    except ValueError as exc:
        raise UsageError(f"cannot build the character vocabulary: {exc}") from exc
    job.vocab = vocab
    job.schema = text_schema(params.seq_len, vocab_id_type(vocab))
    job.units = plan_units(results, splits, params, scratch_url, stamps)
    job.unit_count = len(job.units)
    job.sources = hashes.result()
    job.quarantine = [q for result in results for q in result.quarantine]
    job.finalize = lambda _results: {"text": _text_section(dump, params, results)}
    job.card = text_card(
        "Wikipedia",
        f"Pages of the Wikipedia dump {dump.rel} as character sequences ({params.text} text), "
        "split by page. Text: CC BY-SA (Wikipedia).",
    )
    manifest = run_build(job, execution, root=folder)
    resolve(out).join(BUILD_DIR, SCRATCH).remove(recursive=True)
    return manifest


def _text_section(
    dump: Dump, params: WikipediaParams, results: Sequence[ScanResult]
) -> dict[str, Any]:
    pages: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for result in results:
        add_counts(pages, result.pages)
        add_counts(skipped, result.skipped)
    return {
        "vocab_kind": "char",
        "text": params.text,
        "export_version": dump.version,
        "encoding": dump.codec,
        "compression": "bz2" if dump.bz2 else "none",
        "index": dump.index_rel,
        "scan_units": len(results),
        "pages": dict(sorted(pages.items())),
        "skipped": dict(sorted(skipped.items())),
        "redirects": skipped.get("redirect", 0),
        "notes": [],
    }


SPEC = CorpusSpec(
    name=NAME,
    summary="Wikipedia XML dumps (.xml, .xml.bz2, multistream) as character sequences",
    params=WikipediaParams,
    build=build,
    synth_params=DumpSynthParams,
    synth=write_dump,
)


# --- where the dumps are published: `graves-data download wikipedia` ---------------------------

# <lang>wiki/<date>/<lang>wiki-<date>-pages-articles[-multistream].xml.bz2, the multistream
# index with --multistream, and the dump's own sha1sums.txt (md5sums where it has no sha1),
# which gives each file's checksum before the transfer starts. `--mirror` takes the folder of
# a Wikimedia dump mirror that holds <lang>wiki/.
DOWNLOADS = DownloadSpec(
    corpus=NAME,
    base_url=WIKIMEDIA_DUMPS,
    resolver=wikimedia_dump_files,
    homepage="https://dumps.wikimedia.org/",
    notes="checksums from the dump's published sha1sums (or md5sums) file",
)
