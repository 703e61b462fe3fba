"""lxml's proof for what the fast reader does not read itself: each stroke file with its
StrokeSet's content taken out (a few hundred bytes), the whole batch in one parse.

A file passes where that rest is a well-formed document whose root is the un-namespaced
`ROOT_TAG` holding exactly one StrokeSet, a child of it (`rest_is_well_formed`, one parse per
file, is the definition). `rests_are_well_formed` gives the same answers from one parse of all
rests of a batch that are ASCII, joined as the content of one element, each after a marker
element:

    <_><_/>rest 1 without its declaration<_/>rest 2 ...</_>

The fast reader has already proven that no file holds `<!`, `<?` past its declaration, or `&`,
so a rest is elements, text and white space only. If lxml accepts the joined document, the
markers are the only `_` elements in it and all are children of the outer one, every rest
lies between two points of depth one: it is balanced, so well-formed content. If, between
markers, there is exactly one element, `ROOT_TAG`, and white space only, and each StrokeSet's
parent is one of those roots, one each, every rest is a document as the definition asks. A
declaration is checked once for what lxml says of it alone (an ASCII rest reads the same in
every encoding it may name); a rest that is not ASCII, and every rest of a batch whose joined
document fails, is parsed on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from lxml import etree

from graves_data.safexml import xml_parser

ROOT_TAG = "WhiteboardCaptureSession"
STROKE_SET = "StrokeSet"
OPEN_SET = b"<StrokeSet>"
DECLARATION = re.compile(
    rb"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*([\"'])1\.[0-9]+\1"
    rb"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*([\"'])(?i:ISO-8859-1|UTF-8|US-ASCII|latin-?1)\2)?"
    rb"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*([\"'])(?:yes|no)\3)?[ \t\r\n]*\?>"
)  # an encoding in which every ASCII byte is that ASCII character, as the tags are read
MARKER = "_"
WHITE = " \t\r\n"


def _start(data: bytes) -> int | None:
    """Where the file's content starts after its XML declaration (0 for none), or None
    where its start is not one the fast reader takes."""
    if data.startswith(b"<?"):
        found = DECLARATION.match(data)
        return None if found is None else found.end()
    if data[:1] not in (b"<", b" ", b"\t", b"\r", b"\n"):
        return None  # without a declaration, only such a start is read as UTF-8
    return 0


def _rest(data: bytes, open_at: int, close_at: int) -> bytes:
    return data[: open_at + len(OPEN_SET)] + data[close_at:]


def rest_is_well_formed(data: bytes, open_at: int, close_at: int) -> bool:
    """lxml's proof for all of the file but the content of the StrokeSet that starts at
    `open_at` (its `<StrokeSet>`) and ends at `close_at` (its `</StrokeSet>`)."""
    if _start(data) is None:
        return False
    parser = xml_parser()
    try:
        root = etree.fromstring(_rest(data, open_at, close_at), parser)
    except etree.XMLSyntaxError:
        return False
    if len(parser.error_log) or root.tag != ROOT_TAG:
        return False
    return len(root.findall(STROKE_SET)) == 1 and sum(1 for _ in root.iter(STROKE_SET)) == 1


def rests_are_well_formed(datas: Sequence[bytes], spans: Sequence[tuple[int, int]]) -> list[bool]:
    """`rest_is_well_formed` of each file (with its StrokeSet's span), by one parse of the
    batch (see the module's docstring)."""
    answers = [False] * len(datas)
    joined: list[int] = []
    pieces: list[bytes] = []
    for i, (data, (open_at, close_at)) in enumerate(zip(datas, spans, strict=True)):
        start = _start(data)
        if start is None:
            continue
        piece = _rest(data, open_at, close_at)[start:]
        if piece.isascii() and _declaration_is_clean(data[:start]):
            joined.append(i)
            pieces.append(piece)
        else:
            answers[i] = rest_is_well_formed(data, open_at, close_at)
    if pieces and _all_documents(pieces):
        for i in joined:
            answers[i] = True
    else:
        for i in joined:
            answers[i] = rest_is_well_formed(datas[i], *spans[i])
    return answers


@lru_cache(maxsize=64)
def _declaration_is_clean(declaration: bytes) -> bool:
    """Whether lxml reads a document with this declaration (or none) without a word."""
    parser = xml_parser()
    try:
        etree.fromstring(declaration + b"<a/>", parser)
    except etree.XMLSyntaxError:
        return False
    return not len(parser.error_log)


def _all_documents(pieces: Sequence[bytes]) -> bool:
    """Whether each piece is white space, one `ROOT_TAG` element holding one StrokeSet as a
    child and no other, and white space, from one parse of them all."""
    marker = f"<{MARKER}/>".encode()
    outer_tags = f"<{MARKER}>".encode(), f"</{MARKER}>".encode()
    document = b"".join([outer_tags[0], *(marker + p for p in pieces), outer_tags[1]])
    parser = xml_parser()
    try:
        outer = etree.fromstring(document, parser)
    except etree.XMLSyntaxError:
        return False
    if len(parser.error_log) or not _white(outer.text):
        return False
    children = list(outer)
    markers, roots = children[0::2], children[1::2]
    if len(markers) != len(pieces) or len(roots) != len(pieces):
        return False
    if sum(1 for _ in outer.iter(MARKER)) != len(pieces) + 1:  # ours, and the outer one
        return False
    if any(m.tag != MARKER or not _white(m.tail) for m in markers):
        return False
    if any(r.tag != ROOT_TAG or not _white(r.tail) for r in roots):
        return False
    parents = [s.getparent() for s in outer.iter(STROKE_SET)]
    return len(parents) == len(roots) and all(p is r for p, r in zip(parents, roots, strict=True))


def _white(text: str | None) -> bool:
    return text is None or not text.strip(WHITE)
