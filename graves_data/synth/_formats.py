"""The release's file formats, byte for byte: stroke XML, original XML, transcriptions, lists.

Written with string templates rather than an XML library, because the release's bytes are not
what a serializer writes: CRLF after each `<Point>` line and LF everywhere else in stroke files,
LF only in the original XML, quotes escaped twice (`&amp;quot;`) in some original files, an
encoding declaration that does not always say ISO-8859-1, trailing spaces and mixed line ends in
transcriptions. Points are formatted a stroke at a time with one `%` over a repeated template,
which keeps a full-size corpus (7.7 M points) to seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

DECLARATION = '<?xml version="1.0" encoding="{}"?>\n'
_SESSION_OPEN = "<WhiteboardCaptureSession>\n"
_SESSION_CLOSE = "</WhiteboardCaptureSession>\n"
_DESCRIPTION = (
    "  <WhiteboardDescription>\n"
    '    <SensorLocation corner="top_left"/>\n'
    '    <DiagonallyOppositeCoords x="%d" y="%d"/>\n'
    '    <VerticallyOppositeCoords x="%d" y="%d"/>\n'
    '    <HorizontallyOppositeCoords x="%d" y="%d"/>\n'
    "  </WhiteboardDescription>\n"
)
_STROKE_OPEN = '    <Stroke colour="%s" start_time="%d.%02d" end_time="%d.%02d">\n'
_STROKE_CLOSE = "    </Stroke>\n"
_POINT = '      <Point x="%d" y="%d" time="%d.%02d"/>'
_STROKESET_OPEN = "  <StrokeSet>\n"
_STROKESET_CLOSE = "  </StrokeSet>\n"
# The whiteboard as the original files describe it when they have a General section.
BOARD = (6912, 8798, 214, 8878, 7038, 196)
SETTING = (
    '    <Setting location="IAM university of Berne (CH)" producer="Marcus Liwicki '
    '(liwicki (at) iam.unibe.ch)" system="eBeam System 3 YCap 1.0"/>\n'
)
PLACEHOLDER = "Please Enter Transcription here"
# a word of the original XML's Transcription: a run of letters and digits, or one other mark
_WORD = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿ]+|\S")


@dataclass(frozen=True)
class LineInk:
    """The pen data of one stroke file as written: points (time in centiseconds), the index
    one past each stroke's last point (repeated for an empty stroke), and each stroke's
    start and end time as its `<Stroke>` element states them."""

    x: IntArray
    y: IntArray
    t: IntArray
    ends: IntArray
    times: IntArray  # (n_strokes, 2)

    @property
    def n_points(self) -> int:
        return len(self.x)

    @property
    def n_strokes(self) -> int:
        return len(self.ends)

    def extents(self) -> tuple[int, int, int, int]:
        """min x, min y, max x, max y over all points."""
        return int(self.x.min()), int(self.y.min()), int(self.x.max()), int(self.y.max())


def stroke_times(t: IntArray, ends: IntArray) -> IntArray:
    """Start and end time of each (non-empty) stroke: its first and last point's time."""
    starts = np.concatenate([[0], ends[:-1]])
    return np.column_stack([t[starts], t[ends - 1]]).astype(np.int64)


def _stroke_set(ink: LineInk, colour: str, eol: str, end_delay: IntArray | None) -> list[str]:
    """The `<StrokeSet>` element's lines; `end_delay` (centiseconds) is added to each stroke's
    stated end time, as the original files state it a reading after the last point."""
    sec, cs = np.divmod(ink.t, 100)
    flat = np.column_stack([ink.x, ink.y, sec, cs]).ravel().tolist()
    times = (
        ink.times
        if end_delay is None
        else ink.times + np.column_stack([np.zeros_like(end_delay), end_delay])
    )
    start_s, start_c = np.divmod(times[:, 0], 100)
    end_s, end_c = np.divmod(times[:, 1], 100)
    point = _POINT + eol
    parts = [_STROKESET_OPEN]
    begin = 0
    for k, end in enumerate(ink.ends.tolist()):
        parts.append(_STROKE_OPEN % (colour, start_s[k], start_c[k], end_s[k], end_c[k]))
        if end > begin:
            parts.append((point * (end - begin)) % tuple(flat[4 * begin : 4 * end]))
        parts.append(_STROKE_CLOSE)
        begin = end
    parts.append(_STROKESET_CLOSE)
    return parts


def _description(x_min: int, y_min: int, x_max: int, y_max: int) -> str:
    return _DESCRIPTION % (x_max, y_max, x_min, y_max, x_max, y_min)


def line_xml(ink: LineInk) -> bytes:
    """One `lineStrokes` file: the whiteboard extent of the line, then its strokes."""
    parts = [DECLARATION.format("ISO-8859-1"), _SESSION_OPEN, _description(*ink.extents())]
    parts.extend(_stroke_set(ink, "black", "\r\n", None))
    parts.append(_SESSION_CLOSE)
    return "".join(parts).encode("ascii")


@dataclass(frozen=True)
class OriginalHeader:
    """What an `original/.../strokes?.xml` says besides its strokes."""

    encoding: str  # the declared encoding: ISO-8859-1, or UTF-8 in a rare file
    general: bool  # False: no General section (writer unknown) and no Transcription
    form_id: str  # Form@id, which does not always match the path
    writer_id: str
    save_time: int  # centiseconds, session clock
    capture_time: str  # "15:21:25.624"
    date: tuple[int, int, int, int]  # year, month, day of month, day of week (Sunday = 0)
    colour: str
    lines: tuple[str, ...] | None  # transcription lines; None: no Transcription section
    double_escape: bool  # quotes written as &amp;quot; and &amp;apos;
    board: tuple[int, int, int, int, int, int]  # the WhiteboardDescription numbers


def original_xml(header: OriginalHeader, inks: Sequence[LineInk], end_delay: IntArray) -> bytes:
    """The whole form as captured: General, Transcription, the board and every stroke."""
    parts = [DECLARATION.format(header.encoding), _SESSION_OPEN]
    if header.general:
        parts.append(_general(header))
    if header.general and header.lines is not None:
        parts.append(_transcription(header.form_id, header.lines, header.double_escape))
    parts.append(_DESCRIPTION % header.board)
    whole = _concatenate(inks)
    body = _stroke_set(whole, header.colour, "\n", end_delay)
    parts.extend(body)
    parts.append(_SESSION_CLOSE)
    encoding = "utf-8" if header.encoding.upper() == "UTF-8" else "iso-8859-1"
    return "".join(parts).encode(encoding)


def _general(header: OriginalHeader) -> str:
    year, month, day, weekday = header.date
    sec, cs = divmod(header.save_time, 100)
    return (
        "  <General>\n"
        f'    <Form id="{header.form_id}" writerID="{header.writer_id}" '
        f'saveTime="{sec}.{cs:02d}"/>\n'
        f'    <CaptureTime time="{header.capture_time}" year="{year}" month="{month}" '
        f'dayOfMonth="{day}" dayOfWeek="{weekday}"/>\n'
        f"{SETTING}"
        "  </General>\n"
    )


def _escape_text(text: str, double: bool) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if double:
        return text.replace('"', "&amp;quot;").replace("'", "&amp;apos;")
    return text


def _escape_attribute(text: str, double: bool) -> str:
    text = _escape_text(text, double)
    return text if double else text.replace('"', "&quot;")


def _transcription(form_id: str, lines: Sequence[str], double: bool) -> str:
    parts = ["  <Transcription>\n", "    <Text>\n"]
    parts.extend(_escape_text(line, double) + "\n" for line in lines)
    parts.append("    </Text>\n")
    for n, line in enumerate(lines, 1):
        line_id = f"{form_id}-{n:02d}"
        parts.append(f'    <TextLine id="{line_id}" text="{_escape_attribute(line, double)}">\n')
        for w, word in enumerate(_WORD.findall(line), 1):
            word_id = f"{line_id}-{w:02d}"
            parts.append(f'      <Word id="{word_id}" text="{_escape_attribute(word, double)}">\n')
            for c, char in enumerate(word, 1):
                text = _escape_attribute(char, double)
                parts.append(f'        <Char id="{word_id}-{c:02d}" text="{text}"/>\n')
            parts.append("      </Word>\n")
        parts.append("    </TextLine>\n")
    parts.append("  </Transcription>\n")
    return "".join(parts)


def _concatenate(inks: Sequence[LineInk]) -> LineInk:
    offsets = np.cumsum([0] + [ink.n_points for ink in inks[:-1]])
    return LineInk(
        x=np.concatenate([ink.x for ink in inks]),
        y=np.concatenate([ink.y for ink in inks]),
        t=np.concatenate([ink.t for ink in inks]),
        ends=np.concatenate([ink.ends + off for ink, off in zip(inks, offsets, strict=True)]),
        times=np.concatenate([ink.times for ink in inks]),
    )


def transcription_txt(ocr: Sequence[str], csr: Sequence[str], crlf: bool, trailing: bool) -> bytes:
    """An `ascii/.../<form>.txt` file: the OCR section (the typed source, often empty), then
    the CSR section, one line per stroke file; ISO-8859-1."""
    nl = "\r\n" if crlf else "\n"
    pad = " " if trailing else ""
    parts = [f"OCR:{pad}{nl}{nl}"]
    if ocr:
        parts.extend(f"{line}{pad}{nl}" for line in ocr)
        parts.append(nl)
    parts.append(f"CSR:{pad}{nl}{nl}")
    parts.extend(f"{line}{pad}{nl}" for line in csr)
    return "".join(parts).encode("iso-8859-1")


def split_list(form_ids: Sequence[str]) -> bytes:
    """A task split list: one form id a line, each after a space, as the release writes it."""
    return "".join(f" {form_id}\n" for form_id in form_ids).encode("ascii")
