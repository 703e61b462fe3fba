"""InkML: bytes in, a line out; a line in, bytes out (pure; the source is for messages only).

A file, as written here (the channels X, Y and T are required; F, the pen pressure, optional):

    <ink xmlns="http://www.w3.org/2003/InkML">
      <traceFormat>
        <channel name="X" type="integer"/> <channel name="Y" type="integer"/>
        <channel name="T" type="decimal" units="s"/> <channel name="F" type="decimal"/>
      </traceFormat>
      <annotation type="truth">the text written</annotation>
      <annotation type="writer">w01</annotation>
      <trace>120 340 0.000 0.5, 123 342 0.016 0.5, ...</trace>
      ...
    </ink>
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt

from graves_data.corpora.iam_ondb.readers import parse_xml
from graves_data.corpora.ink.params import INKML_NS, LINE_ID, MAX_TEXT, REQUIRED
from graves_data.errors import BadInput, UsageError
from graves_data.pipelines.strokes import Ink


@dataclass(frozen=True)
class InkLine:
    """One line as an InkML file holds it: points per stroke, the text, the writer."""

    text: str
    writer: str | None
    strokes: tuple[npt.NDArray[np.float64], ...]  # each (n, 4): x, y, t (s), pressure (NaN)

    def to_ink(self, scale: float = 1.0) -> Ink:
        """Integer coordinates (X, Y times `scale`, rounded), times in seconds."""
        points = np.concatenate(self.strokes) if self.strokes else np.zeros((0, 4))
        xy = np.rint(points[:, :2] * scale)
        ends = np.cumsum([len(s) for s in self.strokes]).astype(np.int64)
        t = points[:, 2].astype(np.float64)
        return Ink(xy[:, 0].astype(np.int64), xy[:, 1].astype(np.int64), t, ends)


def _local(tag: Any) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and tag.startswith("{") else str(tag)


def parse_inkml(data: bytes, source: str) -> InkLine:
    """A line from InkML bytes: the traces' X, Y, T (and F) channels, and the `truth` text.

    What is read: one `traceFormat` (inside `definitions`/`context` or at the top; the
    channel order it names), `trace` elements (also inside `traceGroup`s) of explicit values.
    Refused, each with its reason (BadInput): not XML or not `<ink>`, a DOCTYPE, no text, no
    X, Y or T channel, difference-encoded values (`'`, `"`), a value that is not a finite
    number, a point with too few values, an empty trace, times that are not seconds.
    """
    root = parse_xml(data, source)  # the safe parser of graves_data.safexml, DOCTYPE refused
    if _local(root.tag) != "ink":
        raise BadInput(source, "wrong-root", f"root element is <{_local(root.tag)}>, not <ink>")
    channels = _channels(root, source)
    text = _annotation(root, "truth")
    if text is None or not text.strip():
        raise BadInput(source, "no-text", 'no <annotation type="truth"> with the text written')
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        raise BadInput(
            source, "text-too-long", f"text of {len(text)} characters (at most {MAX_TEXT})"
        )
    writer = _annotation(root, "writer")
    traces = [e for e in root.iter() if _local(e.tag) == "trace"]
    if not traces:
        raise BadInput(source, "no-traces", "no <trace> elements")
    strokes = tuple(_trace(t.text or "", channels, source, i) for i, t in enumerate(traces))
    return InkLine(text, (writer or "").strip() or None, strokes)


def _channels(root: Any, source: str) -> list[str]:
    formats = [e for e in root.iter() if _local(e.tag) == "traceFormat"]
    if len(formats) != 1:
        raise BadInput(
            source, "trace-format", f"{len(formats)} <traceFormat> elements (one is read)"
        )
    names = [str(c.get("name", "")) for c in formats[0] if _local(c.tag) == "channel"]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise BadInput(source, "channels", f"no channel {', '.join(missing)} in <traceFormat>")
    for channel in formats[0]:
        if channel.get("name") == "T" and channel.get("units", "s") != "s":
            raise BadInput(source, "time-units", 'channel T is not in seconds (units="s")')
    return names


def _annotation(root: Any, kind: str) -> str | None:
    for element in root:
        if _local(element.tag) == "annotation" and element.get("type") == kind:
            return str(element.text or "")
    return None


def _trace(body: str, channels: list[str], source: str, index: int) -> npt.NDArray[np.float64]:
    if "'" in body or '"' in body:
        raise BadInput(
            source, "trace-encoding", f"trace {index}: difference-encoded values are not read"
        )
    points = [p.split() for p in body.replace("!", " ").split(",") if p.strip()]
    if not points:
        raise BadInput(source, "empty-trace", f"trace {index} has no points")
    width = len(channels)
    if any(len(p) < width for p in points):
        raise BadInput(
            source, "point-values", f"trace {index}: a point has fewer than {width} values"
        )
    try:
        values = np.asarray([p[:width] for p in points], dtype=np.float64)
    except ValueError:
        raise BadInput(source, "non-numeric", f"trace {index}: a value is not a number") from None
    if not np.all(np.isfinite(values)):
        raise BadInput(source, "non-finite", f"trace {index}: a value is NaN or infinite")
    column = {name: i for i, name in enumerate(channels)}
    out = np.full((len(values), 4), np.nan)
    for k, name in enumerate(("X", "Y", "T", "F")):
        if name in column:
            out[:, k] = values[:, column[name]]
    return out


def write_inkml(strokes: Sequence[npt.ArrayLike], text: str, writer: str | None = None) -> bytes:
    """InkML bytes of a line: strokes of (x, y, t[, pressure]) rows, integer x and y."""
    if not text.strip():
        raise UsageError("a line needs its text")
    arrays = [np.asarray(s, dtype=np.float64) for s in strokes]
    arrays = [a.reshape(len(a), -1) for a in arrays]
    has_force = any(a.shape[1] > 3 for a in arrays)
    channels = [
        '<channel name="X" type="integer"/>',
        '<channel name="Y" type="integer"/>',
        '<channel name="T" type="decimal" units="s"/>',
    ]
    if has_force:
        channels.append('<channel name="F" type="decimal" min="0" max="1"/>')
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ink xmlns="{INKML_NS}">',
        "  <traceFormat>",
        *(f"    {c}" for c in channels),
        "  </traceFormat>",
        f'  <annotation type="truth">{escape(text)}</annotation>',
    ]
    if writer:
        parts.append(f'  <annotation type="writer">{escape(writer)}</annotation>')
    parts.extend(f"  <trace>{_trace_text(stroke, has_force)}</trace>" for stroke in arrays)
    parts.append("</ink>")
    return ("\n".join(parts) + "\n").encode("utf-8")


def _trace_text(rows: npt.NDArray[np.float64], has_force: bool) -> str:
    out = []
    for row in rows:
        fields = [f"{round(row[0])}", f"{round(row[1])}", _seconds(row[2])]
        if has_force:
            force = row[3] if len(row) > 3 and math.isfinite(row[3]) else 0.5
            fields.append(f"{force:.3f}")
        out.append(" ".join(fields))
    return ", ".join(out)


def _seconds(value: float) -> str:
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def check_line_id(line_id: str) -> str:
    """A line id that is also a safe file name (letters, digits, `.`, `_`, `-`)."""
    if not LINE_ID.match(line_id) or ".." in line_id:
        raise UsageError(
            f"line id {line_id!r}: use letters, digits, '.', '_' and '-' (at most 128)"
        )
    return line_id
