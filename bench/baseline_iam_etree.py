"""The usual IAM-OnDB prep script, as the baseline the build is compared with.

What such scripts do (and what the speed figures compare against): walk lineStrokes/, parse
each file with ElementTree, loop over the points in Python to build (dx, dy, end_of_stroke)
rows, look the transcription up in ascii/, and write everything with pyarrow at the end. No
cleaning, no checks, one process, the whole corpus in memory.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def read_transcriptions(raw: Path) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    for path in (raw / "ascii").rglob("*.txt"):
        text = path.read_text(encoding="latin-1").splitlines()
        start = next(i for i, line in enumerate(text) if line.startswith("CSR:"))
        lines[path.stem] = [line.strip() for line in text[start + 1 :] if line.strip()]
    return lines


def line_offsets(path: Path) -> list[list[float]]:
    root = ET.parse(path).getroot()
    rows: list[list[float]] = []
    previous = None
    for stroke in root.iter("Stroke"):
        points = list(stroke.iter("Point"))
        for index, point in enumerate(points):
            x, y = float(point.get("x", 0)), float(point.get("y", 0))
            if previous is None:
                dx, dy = 0.0, 0.0
            else:
                dx, dy = x - previous[0], y - previous[1]
            eos = 1.0 if index == len(points) - 1 else 0.0
            rows.append([dx, dy, eos])
            previous = (x, y)
    return rows


def build_baseline(raw_folder: str, out_folder: str) -> int:
    raw, out = Path(raw_folder), Path(out_folder)
    texts = read_transcriptions(raw)
    ids, offsets, labels = [], [], []
    for folder, _, names in sorted(os.walk(raw / "lineStrokes")):
        for name in sorted(names):
            line_id = name[: -len(".xml")]
            form, number = line_id.rsplit("-", 1)
            form_lines = texts.get(form, [])
            if int(number) > len(form_lines):
                continue
            ids.append(line_id)
            offsets.append(line_offsets(Path(folder) / name))
            labels.append(form_lines[int(number) - 1])
    out.mkdir(parents=True, exist_ok=True)
    table = pa.table({"line_id": ids, "text": labels, "offsets": offsets})
    pq.write_table(table, out / "baseline.parquet")
    return sum(len(o) for o in offsets)
