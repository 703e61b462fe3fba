"""What the reliability tests share: reading a built dataset back, comparing it with the clean
build, finding files of the generated corpus, and editing stroke XML point by point."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from graves_data.corpora.iam_ondb import IamParams, build
from graves_data.pipelines.runner import Execution

QUIET = Execution(workers=1, progress=False)
PARAMS = IamParams(forms_per_shard=1)


@dataclass(frozen=True)
class Built:
    """A built dataset read back: its manifest, its rows by line id, each shard's line ids."""

    out: Path
    manifest: dict[str, Any]
    rows: dict[str, dict[str, Any]]
    shard_lines: dict[str, list[str]]

    @property
    def quarantine(self) -> set[tuple[str, str]]:
        return {(q["source"], q["code"]) for q in self.manifest["quarantine"]}

    def reason(self, source: str) -> str:
        return next(q["reason"] for q in self.manifest["quarantine"] if q["source"] == source)

    def shard_sha(self) -> dict[str, str]:
        return {
            f["path"]: f["sha256"] for s in self.manifest["splits"].values() for f in s["files"]
        }

    def vocab(self) -> list[str]:
        data = json.loads((self.out / "vocab.json").read_text())
        return [s["symbol"] for s in data["symbols"]]


def read_built(out: Path) -> Built:
    manifest = json.loads((out / "manifest.json").read_text())
    rows: dict[str, dict[str, Any]] = {}
    shard_lines: dict[str, list[str]] = {}
    for split in manifest["splits"].values():
        for item in split["files"]:
            table = pq.read_table(out / item["path"])
            found = table.to_pylist()
            shard_lines[item["path"]] = [r["line_id"] for r in found]
            rows.update({r["line_id"]: r for r in found})
    return Built(out, manifest, rows, shard_lines)


def build_read(raw: Path, out: Path, params: IamParams = PARAMS, **options: Any) -> Built:
    build(raw, out, params, execution=QUIET, **options)
    return read_built(out)


def assert_nothing_else_changed(
    clean: Built,
    damaged: Built,
    lines: set[str] = frozenset(),  # type: ignore[assignment]
    quarantine: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    same_vocab: bool = True,
) -> None:
    """Every row but `lines` equal in every column, the quarantine exactly the clean one plus
    `quarantine`, and every shard holding the same lines as in the clean build byte-identical."""
    assert damaged.quarantine == clean.quarantine | quarantine
    for line_id, row in clean.rows.items():
        if line_id in lines:
            continue
        assert line_id in damaged.rows, f"{line_id} went missing"
        other = damaged.rows[line_id]
        if same_vocab:
            assert other == row, f"{line_id} changed"
        else:
            differs = {k for k in row if row[k] != other[k]} - {"text_ids"}
            assert not differs, f"{line_id} changed in {differs}"
    assert set(damaged.rows) <= set(clean.rows), "rows appeared that the clean build lacks"
    if same_vocab:
        assert damaged.vocab() == clean.vocab()
        clean_sha, damaged_sha = clean.shard_sha(), damaged.shard_sha()
        for path, ids in damaged.shard_lines.items():
            if clean.shard_lines.get(path) == ids and not set(ids) & lines:
                assert damaged_sha[path] == clean_sha[path], f"{path} changed"


# ---------------------------------------------------------------------------------------------
# the generated corpus's files


def listed(raw: Path, name: str) -> list[str]:
    return sorted(line.strip() for line in (raw / f"{name}.txt").read_text().splitlines() if line)


def stroke_path(raw: Path, line_id: str) -> Path:
    return next(raw.glob(f"lineStrokes/*/*/{line_id}.xml"))


def transcription_path(raw: Path, form: str) -> Path:
    return next(raw.glob(f"ascii/*/*/{form}.txt"))


def original_path(raw: Path, form: str) -> Path | None:
    folder = form.rstrip("abcdefghijklmnopqrstuvwxyz")
    suffix = form[len(folder) :]
    return next(raw.glob(f"original/*/{folder}/strokes{suffix}.xml"), None)


def rel(raw: Path, path: Path) -> str:
    return path.relative_to(raw).as_posix()


# ---------------------------------------------------------------------------------------------
# stroke XML, point by point

POINT = re.compile(rb'<Point x="(-?\d+)" y="(-?\d+)" time="([0-9.]+)"\s*/>')
STROKE = re.compile(rb"<Stroke[ >].*?</Stroke>", re.S)


def edit_points(data: bytes, stroke: int, edit: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """`data` with the Point elements of stroke number `stroke` replaced by edit(points)."""
    strokes = list(STROKE.finditer(data))
    match = strokes[stroke]
    body = match.group(0)
    points = [p.group(0) for p in POINT.finditer(body)]
    head = body[: body.index(b"<Point")]
    tail = body[body.rindex(b"/>") + 2 :]
    sep = b"\r\n      " if b"\r\n" in body else b"\n      "
    new = head + sep.join(edit(points)) + tail
    return data[: match.start()] + new + data[match.end() :]


def point(x: int, y: int, t: str) -> bytes:
    return f'<Point x="{x}" y="{y}" time="{t}"/>'.encode()


def fields(element: bytes) -> tuple[int, int, str]:
    found = POINT.fullmatch(element)
    if found is None:
        raise ValueError(f"not a release Point: {element!r}")
    return int(found[1]), int(found[2]), found[3].decode()


def absolute_points(row: dict[str, Any]) -> np.ndarray[Any, Any]:
    """The cleaned (x, y) points of a row, back from its offsets."""
    offsets = np.asarray(row["offsets"], dtype=np.int64)
    return np.asarray(row["origin"], dtype=np.int64) + np.cumsum(offsets[:, :2], axis=0)
