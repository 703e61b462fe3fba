"""Bytes of a dump to pages: the head (encoding, export version, namespaces), bz2 streams, and
one `<page>` element parsed into a `Page`."""

from __future__ import annotations

import bz2
import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from graves_data.corpora.wikipedia.params import HEAD_BYTES, READ_BLOCK
from graves_data.errors import BadInput, NotACorpus
from graves_data.safexml import xml_parser
from graves_data.storage import Location

_REDIRECT = re.compile(r"^\s*#REDIRECT\b", re.IGNORECASE)


_ROOT = re.compile(r"<mediawiki\b([^>]*)>")


_VERSION = re.compile(r"""\bversion\s*=\s*["']([0-9.]+)["']""")


_SITEINFO = re.compile(r"<siteinfo>.*?</siteinfo>", re.DOTALL)


_DECLARED = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


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
        element = etree.fromstring(siteinfo.group(0), xml_parser(huge_tree=True))
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
        page = etree.fromstring(markup, xml_parser(huge_tree=True))
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
