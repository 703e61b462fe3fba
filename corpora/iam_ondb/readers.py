"""Readers of the release's files: bytes in, records out (pure; paths are only for messages)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
from lxml import etree

from graves_data.corpora.iam_ondb.params import CONTROL, WRITER_CHUNK
from graves_data.errors import BadInput
from graves_data.pipelines.strokes import Ink

# =============================================================================================
# readers: bytes in, records out (pure; the source path is only for messages)


def xml_parser() -> etree.XMLParser:
    """The only way graves-data parses XML: no entity expansion, no DTD, no network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def parse_xml(data: bytes, source: str) -> Any:
    if not data.strip():
        raise BadInput(source, "empty-file", "file is empty")
    if has_doctype(data):
        raise BadInput(source, "xml-dtd", "has a DOCTYPE; DTDs and entities are not read")
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise BadInput(source, "xml-syntax", f"not well-formed XML ({exc})") from None
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise BadInput(source, "xml-dtd", "has a DOCTYPE; DTDs and entities are not read")
    return root


def has_doctype(data: bytes) -> bool:
    """A DOCTYPE in a single-byte or UTF-8 document, found before libxml2 sees it: a file
    with one is refused without being parsed, so no entity of it is ever expanded, no file it
    names read and no URL fetched. (A UTF-16 document's is caught after a parse that has entity
    expansion, DTD loading and network access off.)"""
    return b"<!DOCTYPE" in data


def parse_stroke_xml(data: bytes, source: str) -> Ink:
    """A line's pen points from a lineStrokes file, as read: no cleaning here.

    Files in the release's own regular form take a fast path (a check-only lxml parse, then
    the attribute values read straight from the bytes); anything else, and every file the fast
    path has a doubt about, is read from a full lxml tree. Both give the same Ink.
    """
    fast = fast_stroke_xml(data)
    return fast if fast is not None else tree_stroke_xml(data, source)


def tree_stroke_xml(data: bytes, source: str) -> Ink:
    """The general reader: an lxml tree, any attribute order, quoting or entities."""
    root = parse_xml(data, source)
    if root.tag != "WhiteboardCaptureSession":
        raise BadInput(
            source, "wrong-root", f"root element is <{root.tag}>, not <WhiteboardCaptureSession>"
        )
    strokeset = root.find("StrokeSet")
    if strokeset is None:
        raise BadInput(source, "no-strokeset", "no <StrokeSet> element")
    counts = [int(s.xpath("count(Point)")) for s in strokeset.iterchildren("Stroke")]
    total = sum(counts)
    xs = strokeset.xpath("Stroke/Point/@x", smart_strings=False)
    ys = strokeset.xpath("Stroke/Point/@y", smart_strings=False)
    if len(xs) != total or len(ys) != total:
        raise BadInput(
            source, "point-attribute", f"{_first_point_without(strokeset)} has no x or y"
        )
    x, y = _coordinates(xs, source, "x"), _coordinates(ys, source, "y")
    ends = np.cumsum(np.asarray(counts, dtype=np.int64)) if counts else np.zeros(0, np.int64)
    return Ink(x, y, _times(strokeset, total, source), ends)


class _CheckOnly:
    """An lxml parser target that builds nothing: the parse only proves well-formedness."""

    def close(self) -> None:
        return None


def check_only_parser() -> etree.XMLParser:
    """The safe parser of `xml_parser`, building no tree (libxml2 still checks everything)."""
    target: Any = _CheckOnly()
    return etree.XMLParser(target=target, resolve_entities=False, no_network=True, load_dtd=False)


ROOT_START = re.compile(rb"\s*<WhiteboardCaptureSession[\s>]")
STROKE_HEAD = re.compile(rb"<Stroke(?:\s[^>]*)?>")
NUMBER_BYTES = b"0123456789.-"
NUMBERS_ONLY = bytes(c if c in NUMBER_BYTES else 32 for c in range(256))  # all else -> space
POINT_SKELETON = b'<Pointx=""y=""time=""/>'  # a release Point, numbers and spaces removed
POINT_TOKENS = (b'<Point x="', b'" y="', b'" time="')  # each exactly once per release Point
SKELETON = re.compile(rb'(?:<S>(?:<Pointx=""y=""time=""/>)*</Stroke>)*')


def fast_stroke_xml(data: bytes) -> Ink | None:
    """The Ink of a file in the release's regular form, or None to say: use the tree reader.

    Sound because of what it checks first: the document is well-formed (lxml parses it, with
    no tree), and holds no comment, CDATA, DOCTYPE, processing instruction or entity reference,
    so every `<` in it starts or ends an element and attribute values are literal. Then the
    StrokeSet must hold nothing but strokes of Point elements of the release's exact form.
    """
    begin = _body_start(data)
    if begin < 0 or data.find(b"<!", begin) >= 0 or data.find(b"<?", begin) >= 0 or b"&" in data:
        return None
    if not ROOT_START.match(data, begin):
        return None
    parser = check_only_parser()
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None
    if len(parser.error_log):  # what libxml2 only logs, e.g. an undeclared namespace prefix
        return None  # (the tree reader refuses it): not the release's form
    start, end = data.find(b"<StrokeSet>", begin), data.find(b"</StrokeSet>", begin)
    if start < 0 or end < start or data.find(b"<StrokeSet", start + 1) >= 0:
        return None
    if data.find(b"<Point", begin, start) >= 0 or data.find(b"<Point", end) >= 0:
        return None
    return _fast_strokes(data[start + len(b"<StrokeSet>") : end])


def _body_start(data: bytes) -> int:
    """Where the document's elements begin (after the XML declaration); -1 if it is unclosed."""
    if not data.startswith(b"<?xml"):
        return 0
    close = data.find(b"?>")
    return -1 if close < 0 else close + 2


def _fast_strokes(strokeset: bytes) -> Ink | None:
    """Points of a StrokeSet body whose every stroke holds only `<Point x y time/>` elements.

    With the stroke tags marked and the numbers and white space taken out, the markup must be
    exactly strokes of Point skeletons (`SKELETON`); the numbers, read in order, must then be
    three per point and the coordinates integers. Any other shape (a self-closing stroke, an
    attribute more or less, another element) returns None and the tree reader decides.
    """
    marked = STROKE_HEAD.sub(b"<S>", strokeset)
    skeleton = marked.translate(None, NUMBER_BYTES + b" \t\r\n")
    if SKELETON.fullmatch(skeleton) is None:
        return None
    stroke_lengths = [len(part) for part in skeleton.split(b"</Stroke>")[:-1]]
    counts = [(length - 3) // len(POINT_SKELETON) for length in stroke_lengths]
    if any(marked.count(token) != sum(counts) for token in POINT_TOKENS):
        return None  # a name split by white space (<Poin tx=) or holding numbers (<Point1)
    return _fast_numbers(marked, counts)


def _fast_numbers(bodies: bytes, counts: list[int]) -> Ink | None:
    try:
        numbers = np.array(bodies.translate(NUMBERS_ONLY).split(), dtype=np.float64)
    except ValueError:
        return None
    if len(numbers) != 3 * sum(counts):
        return None
    numbers = numbers.reshape(-1, 3)
    xy = numbers[:, :2]
    if len(xy) and (np.abs(xy).max() > 2**31 - 1 or np.any(xy != np.rint(xy))):
        return None
    ends = np.cumsum(np.asarray(counts, dtype=np.int64)) if counts else np.zeros(0, np.int64)
    whole = xy.astype(np.int64)
    return Ink(whole[:, 0], whole[:, 1], numbers[:, 2].copy(), ends)


def _first_point_without(strokeset: Any) -> str:
    for k, stroke in enumerate(strokeset.iterchildren("Stroke")):
        for i, point in enumerate(stroke.iterchildren("Point")):
            if point.get("x") is None or point.get("y") is None:
                return f"point {i} of stroke {k} (line {point.sourceline})"
    return "a point"


def _coordinates(values: list[str], source: str, axis: str) -> npt.NDArray[np.int64]:
    try:
        numbers = np.asarray(values, dtype=np.float64) if values else np.zeros(0)
    except ValueError:
        bad = next(v for v in values if not _is_number(v))
        raise BadInput(source, "non-numeric", f"{axis}={bad!r} is not a number") from None
    if not np.all(np.isfinite(numbers)):
        raise BadInput(source, "non-finite", f"an {axis} coordinate is NaN or infinite")
    if np.any(numbers != np.rint(numbers)):
        raise BadInput(
            source, "non-integer", f"an {axis} coordinate is not an integer board position"
        )
    if np.any(np.abs(numbers) > 2**31 - 1):
        raise BadInput(source, "out-of-range", f"an {axis} coordinate is outside the 32-bit range")
    return numbers.astype(np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _times(strokeset: Any, total: int, source: str) -> npt.NDArray[np.float64] | None:
    """Point times in seconds; a missing or unreadable time becomes NaN (repaired later)."""
    ts = strokeset.xpath("Stroke/Point/@time", smart_strings=False)
    if not ts:
        return None
    if len(ts) == total:
        try:
            return np.asarray(ts, dtype=np.float64)
        except ValueError:
            pass
    values = [
        p.get("time") for s in strokeset.iterchildren("Stroke") for p in s.iterchildren("Point")
    ]
    return np.asarray([float(v) if v is not None and _is_number(v) else np.nan for v in values])


def parse_transcription(data: bytes, source: str) -> list[str]:
    """The CSR lines of an ascii/ file: one per stroke file, in order, spaces trimmed."""
    if _is_utf8_beyond_ascii(data):
        raise BadInput(
            source,
            "not-latin-1",
            "holds UTF-8 multi-byte characters, not ISO-8859-1 text (read as the release's "
            "ISO-8859-1 they would turn into other letters)",
        )
    text = data.decode("iso-8859-1")
    if CONTROL.search(text):
        raise BadInput(
            source, "control-characters", "holds control characters (not ISO-8859-1 text)"
        )
    lines = text.splitlines()
    marker = next((i for i, line in enumerate(lines) if line.strip().startswith("CSR:")), None)
    if marker is None:
        raise BadInput(source, "no-csr", "no CSR: section")
    body = [line.strip() for line in lines[marker + 1 :]]
    while body and not body[0]:
        body.pop(0)
    while body and not body[-1]:
        body.pop()
    if not body:
        raise BadInput(source, "empty-csr", "the CSR: section is empty")
    if "" in body:
        raise BadInput(
            source,
            "csr-blank-line",
            f"blank line inside the CSR: section (line {body.index('') + 1})",
        )
    return body


def _is_utf8_beyond_ascii(data: bytes) -> bool:
    """True for bytes above 0x7f that decode as UTF-8: ISO-8859-1 prose practically never does
    (a letter like Ã would have to be followed by a symbol or C1 control each time)."""
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_writer(data: bytes, source: str) -> tuple[str | None, str | None]:
    """(writer id, None) from an original XML file's head, or (None, why not)."""
    if has_doctype(data):
        return None, "has a DOCTYPE; DTDs and entities are not read"
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        # fed a little at a time: the answer is in the first elements, the file is large
        for start in range(0, len(data), WRITER_CHUNK):
            parser.feed(data[start : start + WRITER_CHUNK])
            found = _writer_event(parser)
            if found is not None:
                return found
        parser.close()
        return _writer_event(parser) or (None, "no General/Form element")
    except etree.XMLSyntaxError as exc:
        return None, f"unreadable original XML ({exc})"


def _writer_event(parser: Any) -> tuple[str | None, str | None] | None:
    for _, element in parser.read_events():
        if element.getroottree().docinfo.doctype:
            return None, "has a DOCTYPE; DTDs and entities are not read"
        if element.tag == "Form":
            writer = (element.get("writerID") or "").strip()
            return (writer, None) if writer else (None, "Form has no writerID")
        if element.tag in ("Transcription", "WhiteboardDescription", "StrokeSet"):
            return None, "no General/Form element"
    return None


def parse_split_list(data: bytes) -> list[str]:
    """Form ids of a task list: one per line, with the release's leading spaces."""
    return [line.strip() for line in data.decode("iso-8859-1").splitlines() if line.strip()]
