"""`graves-data export inkml`: any handwriting dataset's lines as InkML files.

Built back with `graves-data build ink`, they give the same points, texts and writers (times
to the microsecond the files write).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from graves_data.corpora.ink.inkml import check_line_id, write_inkml
from graves_data.corpora.ink.params import SUFFIX
from graves_data.errors import UsageError
from graves_data.shards import Dataset, open_dataset
from graves_data.storage import resolve

COLUMNS = ["line_id", "writer_id", "text", "offsets", "origin", "dt"]


def line_strokes(row: Mapping[str, Any]) -> list[npt.NDArray[np.float64]]:
    """(x, y, t) rows per stroke of a dataset row: origin + cumsum(offsets), t = cumsum(dt)
    (100 points a second where the dataset has no dt)."""
    offsets = np.asarray(row["offsets"], dtype=np.float32).reshape(-1, 3)
    if not len(offsets):
        return []
    steps = offsets[:, :2].astype(np.float64)
    xy = np.asarray(row["origin"], dtype=np.float64) + np.cumsum(steps, axis=0)
    dt = row.get("dt")
    t = (
        np.cumsum(np.asarray(dt, dtype=np.float64))
        if dt is not None and len(dt) == len(offsets)
        else np.arange(len(offsets), dtype=np.float64) / 100.0
    )
    points = np.column_stack([xy, t])
    ends = np.flatnonzero(offsets[:, 2] > 0.5) + 1
    if not len(ends) or ends[-1] != len(offsets):
        ends = np.append(ends, len(offsets))
    starts = np.concatenate([[0], ends[:-1]])
    return [points[a:b] for a, b in zip(starts, ends, strict=True) if b > a]


def iter_rows(dataset: Dataset) -> Iterator[dict[str, Any]]:
    for split in dataset.splits:
        for batch in dataset.iter_batches(split, columns=COLUMNS, batch_size=256):
            yield from batch.to_pylist()


def export_inkml(dataset_path: str, out: str) -> int:
    """Write each line of a handwriting dataset as `OUT/<line_id>.inkml`; return the count."""
    dataset = open_dataset(dataset_path)
    if dataset.manifest.get("kind") != "handwriting":
        raise UsageError(f"{dataset_path}: a text dataset has no handwriting to export")
    target = resolve(out)
    target.makedirs()
    count = 0
    for row in iter_rows(dataset):
        line_id = check_line_id(str(row["line_id"]))
        data = write_inkml(line_strokes(row), str(row["text"]), row.get("writer_id"))
        target.join(line_id + SUFFIX).write_atomic(data)
        count += 1
    return count
