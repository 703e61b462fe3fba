"""Saving ink written on the page: checked in full, then written atomically as InkML.

A line is refused with its reason, and nothing written, where anything about it is wrong: not
InkML (or JSON of the expected shape), no text, too many points or strokes, a coordinate that
is not a finite number. The saved file is read back with the same reader `build ink` uses
before it takes its final name, so what is saved always builds.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graves_data.corpora.ink import SUFFIX, check_line_id, parse_inkml, write_inkml
from graves_data.errors import BadInput, UsageError

WRITER = re.compile(r"^[\w .-]{0,64}$")


def check_strokes(value: Any, limits: Mapping[str, int]) -> list[list[list[float]]]:
    """Strokes as lists of [x, y, t, pressure] (or {x, y, t, pressure} objects)."""
    if not isinstance(value, list) or not value:
        raise UsageError("strokes: a non-empty list of strokes, each a list of points")
    if len(value) > limits["strokes"]:
        raise UsageError(f"{len(value)} strokes; at most {limits['strokes']}")
    out: list[list[list[float]]] = []
    total = 0
    for k, stroke in enumerate(value):
        if not isinstance(stroke, list) or not stroke:
            raise UsageError(f"stroke {k}: a non-empty list of points")
        total += len(stroke)
        if total > limits["points"]:
            raise UsageError(f"over {limits['points']} points")
        out.append([_point(p, k, i) for i, p in enumerate(stroke)])
    return out


def _point(point: Any, stroke: int, index: int) -> list[float]:
    if isinstance(point, dict):
        point = [point.get("x"), point.get("y"), point.get("t"), point.get("pressure", 0.5)]
    if not isinstance(point, list) or len(point) < 3:
        raise UsageError(f"stroke {stroke}, point {index}: [x, y, t] or [x, y, t, pressure]")
    values = []
    for value in point[:4]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"stroke {stroke}, point {index}: values must be numbers")
        if not math.isfinite(value):
            raise UsageError(f"stroke {stroke}, point {index}: values must be finite")
        values.append(float(value))
    if max(abs(values[0]), abs(values[1])) > 2**23:
        raise UsageError(f"stroke {stroke}, point {index}: coordinate out of range")
    return values


def new_line_id(folder: Path) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for k in range(1, 10_000):
        line_id = f"ink-{stamp}-{k:03d}"
        if not (folder / (line_id + SUFFIX)).exists():
            return line_id
    raise UsageError("no free line id this second")


def _target(folder: Path, line_id: Any) -> tuple[str, Path]:
    if line_id is None or line_id == "":
        line_id = new_line_id(folder)
    if not isinstance(line_id, str):
        raise UsageError("line_id must be a string")
    check_line_id(line_id)
    path = folder / (line_id + SUFFIX)
    if path.exists():
        raise FileExistsError(f"line {line_id} is already saved")
    return line_id, path


def _write(path: Path, data: bytes, limits: Mapping[str, int]) -> dict[str, Any]:
    try:
        line = parse_inkml(data, path.name)
    except BadInput as error:
        raise UsageError(f"not saved: {error.reason}") from error
    points = sum(len(s) for s in line.strokes)
    if points > limits["points"] or len(line.strokes) > limits["strokes"]:
        raise UsageError(
            f"not saved: over {limits['points']} points or {limits['strokes']} strokes"
        )
    if len(line.text) > limits["text"]:
        raise UsageError(f"not saved: text over {limits['text']} characters")
    write_new(path, data)
    return {
        "file": path.name,
        "line_id": path.name[: -len(SUFFIX)],
        "text": line.text,
        "strokes": len(line.strokes),
        "points": points,
    }


def write_new(path: Path, data: bytes) -> None:
    """Write a new file atomically: a temporary file, synced, then linked to its final name,
    which fails (FileExistsError) rather than replace a line saved meanwhile."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"line {path.name[: -len(SUFFIX)]} is already saved") from None
    finally:
        tmp.unlink(missing_ok=True)


def save_json(folder: Path, data: Mapping[str, Any], limits: Mapping[str, int]) -> dict[str, Any]:
    """{"text", "strokes", optional "writer" and "line_id"} -> OUT/<line_id>.inkml."""
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UsageError("text: what was written, a non-empty string")
    if len(text) > limits["text"]:
        raise UsageError(f"text of {len(text)} characters; at most {limits['text']}")
    writer = data.get("writer") or None
    if writer is not None and (not isinstance(writer, str) or not WRITER.match(writer)):
        raise UsageError("writer: at most 64 letters, digits, spaces, '.', '_' or '-'")
    strokes = check_strokes(data.get("strokes"), limits)
    line_id, path = _target(folder, data.get("line_id"))
    del line_id
    return _write(path, write_inkml(strokes, text, writer), limits)


def save_inkml(
    folder: Path, body: bytes, line_id: str | None, limits: Mapping[str, int]
) -> dict[str, Any]:
    """An InkML document as sent, once it reads as a line."""
    _, path = _target(folder, line_id)
    return _write(path, body, limits)


def list_lines(folder: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*" + SUFFIX)):
        try:
            line = parse_inkml(path.read_bytes(), path.name)
        except (BadInput, OSError) as error:
            found.append({"file": path.name, "error": str(error)})
            continue
        found.append(
            {
                "file": path.name,
                "text": line.text,
                "strokes": len(line.strokes),
                "points": sum(len(s) for s in line.strokes),
            }
        )
    return found
