"""Readers of the release's files: bytes in, records out (pure; paths are only for messages)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from lxml import etree

from graves_data.corpora.iam_ondb.fastread import fast_stroke_batch
from graves_data.corpora.iam_ondb.params import (
    CONTROL,
    MAX_STROKE_BYTES,
    MAX_TIME,
    NUMBER_GRAMMAR,
    WRITER_CHUNK,
)
from graves_data.corpora.iam_ondb.restproof import ROOT_TAG
from graves_data.errors import BadInput
from graves_data.pipelines.strokes import Ink
from graves_data.safexml import pull_parser, xml_parser

BoolArray = npt.NDArray[np.bool_]
NUMBER = re.compile(NUMBER_GRAMMAR)
NUMBERS = re.compile(f"(?:{NUMBER_GRAMMAR}\n)*")

# =============================================================================================
# readers: bytes in, records out (pure; the source path is only for messages)


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
    """A line's pen points from a lineStrokes file, as read: no cleaning here."""
    read = read_stroke_files([data], [source])[0]
    if isinstance(read, BadInput):
        raise read
    return read


def read_stroke_files(datas: Sequence[bytes], sources: Sequence[str]) -> list[Ink | BadInput]:
    """The Ink of each stroke file, or the BadInput that says why it has none.

    Files in the release's own regular form are read together by the fast reader (array
    operations over all of them at once); every other file, and every file the fast reader has
    a doubt about, is read from a full lxml tree. Both give the same Ink.
    """
    out: list[Ink | BadInput] = []
    fast = fast_stroke_batch(datas)
    for data, source, ink in zip(datas, sources, fast, strict=True):
        if ink is not None:
            out.append(ink)
            continue
        try:
            out.append(tree_stroke_xml(data, source))
        except BadInput as error:
            out.append(error)
    return out


def check_stroke_size(size: int, source: str) -> None:
    """A line stroke file over MAX_STROKE_BYTES is refused before it is read."""
    if size > MAX_STROKE_BYTES:
        raise BadInput(
            source,
            "too-large",
            f"{size:,} bytes: over the {MAX_STROKE_BYTES:,}-byte limit of a line stroke file "
            "(the release's largest is about 0.1 MB); not read",
        )


def tree_stroke_xml(data: bytes, source: str) -> Ink:
    """The general reader: an lxml tree, any attribute order, quoting or entities.

    The definition of what a stroke file holds: the root is the un-namespaced
    WhiteboardCaptureSession; it has exactly one StrokeSet, its child; every Point of the
    document is in a Stroke of that StrokeSet (a Point anywhere else is refused, never
    dropped); x and y are integers and times decimals written as `NUMBER`.
    """
    check_stroke_size(len(data), source)
    root = parse_xml(data, source)
    if root.tag != ROOT_TAG:
        raise BadInput(
            source, "wrong-root", f"root element is <{root.tag}>, not <WhiteboardCaptureSession>"
        )
    strokeset = root.find("StrokeSet")
    if strokeset is None:
        raise BadInput(source, "no-strokeset", "no <StrokeSet> element under the root")
    sets = sum(1 for _ in root.iter("StrokeSet"))
    if sets > 1:
        raise BadInput(
            source, "strokeset-count", f"{sets} <StrokeSet> elements; a line file has one"
        )
    counts = [int(s.xpath("count(Point)")) for s in strokeset.iterchildren("Stroke")]
    total = sum(counts)
    _check_no_stray_points(root, strokeset, total, source)
    xs = strokeset.xpath("Stroke/Point/@x", smart_strings=False)
    ys = strokeset.xpath("Stroke/Point/@y", smart_strings=False)
    if len(xs) != total or len(ys) != total:
        raise BadInput(
            source, "point-attribute", f"{_first_point_without(strokeset)} has no x or y"
        )
    x, y = _coordinates(xs, source, "x"), _coordinates(ys, source, "y")
    ends = np.cumsum(np.asarray(counts, dtype=np.int64)) if counts else np.zeros(0, np.int64)
    return Ink(x, y, _times(strokeset, total), ends)


def _check_no_stray_points(root: Any, strokeset: Any, read: int, source: str) -> None:
    """Every Point of the document is one of the `read` points of StrokeSet/Stroke."""
    if sum(1 for _ in root.iter("Point")) == read:
        return
    for point in root.iter("Point"):
        parent = point.getparent()
        if parent.tag != "Stroke" or parent.getparent() is not strokeset:
            raise BadInput(
                source,
                "stray-point",
                f"a <Point> in <{parent.tag}> (line {point.sourceline}), not in a <Stroke> of "
                "the <StrokeSet>: points are read only from there, and this one would be lost",
            )


def _first_point_without(strokeset: Any) -> str:
    for k, stroke in enumerate(strokeset.iterchildren("Stroke")):
        for i, point in enumerate(stroke.iterchildren("Point")):
            if point.get("x") is None or point.get("y") is None:
                return f"point {i} of stroke {k} (line {point.sourceline})"
    return "a point"


def _coordinates(values: list[str], source: str, axis: str) -> npt.NDArray[np.int64]:
    bad = _first_not_number(values)
    if bad is not None:
        raise BadInput(source, "non-numeric", f"{axis}={bad!r} is not a number ({NUMBER_GRAMMAR})")
    numbers = np.asarray(values, dtype=np.float64) if values else np.zeros(0)
    if not np.all(np.isfinite(numbers)) or np.any(np.abs(numbers) > 2**31 - 1):
        raise BadInput(source, "out-of-range", f"an {axis} coordinate is outside the 32-bit range")
    if np.any(numbers != np.rint(numbers)):
        raise BadInput(
            source, "non-integer", f"an {axis} coordinate is not an integer board position"
        )
    return numbers.astype(np.int64)


def _first_not_number(values: list[str]) -> str | None:
    """The first value that `NUMBER` does not match in full, or None."""
    if not values:
        return None
    if NUMBERS.fullmatch("\n".join(values) + "\n") is not None:
        return None
    return next(v for v in values if NUMBER.fullmatch(v) is None)


def _times(strokeset: Any, total: int) -> npt.NDArray[np.float64] | None:
    """Point times in seconds; a missing or unreadable time, or one beyond MAX_TIME, becomes
    NaN (repaired later from its neighbours)."""
    ts = strokeset.xpath("Stroke/Point/@time", smart_strings=False)
    if not ts:
        return None
    if len(ts) != total or _first_not_number(ts) is not None:
        ts = [
            p.get("time") for s in strokeset.iterchildren("Stroke") for p in s.iterchildren("Point")
        ]
    times = np.asarray(
        [float(v) if v is not None and NUMBER.fullmatch(v) else np.nan for v in ts],
        dtype=np.float64,
    )
    times[~(np.abs(times) <= MAX_TIME)] = np.nan
    return times


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
    parser = pull_parser()
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
