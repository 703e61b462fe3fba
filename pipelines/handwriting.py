"""From cleaned ink and text to the columns of a handwriting shard, and the unit's totals.

Any corpus of online handwriting (IAM-OnDB, or another one read into `Ink`) goes through here,
so every handwriting dataset has the same columns, computed the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from graves_data.pipelines.strokes import CleanReport, Ink, time_steps, to_offsets
from graves_data.schema import HANDWRITING_COUNTS

COUNT_COLUMNS = tuple(HANDWRITING_COUNTS.values())
# a line's fields beside its ink: line id, form id, writer id, text, the text's symbol ids
LineFields = tuple[str, str, str | None, str, npt.NDArray[np.unsignedinteger[Any]]]


@dataclass
class HandwritingRows:
    """Lines gathered one by one; Arrow arrays built once, for the whole shard."""

    keep_time: bool = True
    ids: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    writers: list[str | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    text_ids: list[npt.NDArray[np.unsignedinteger[Any]]] = field(default_factory=list)
    offsets: list[npt.NDArray[np.float32]] = field(default_factory=list)
    origins: list[npt.NDArray[np.int32]] = field(default_factory=list)
    dts: list[npt.NDArray[np.float32] | None] = field(default_factory=list)
    counts: list[tuple[int, ...]] = field(default_factory=list)
    splits: int = 0

    def add(
        self,
        line_id: str,
        form_id: str,
        writer_id: str | None,
        text: str,
        text_ids: npt.NDArray[np.unsignedinteger[Any]],
        ink: Ink,
        report: CleanReport,
    ) -> None:
        offsets, origin = to_offsets(ink)
        self.ids.append(line_id)
        self.forms.append(form_id)
        self.writers.append(writer_id)
        self.texts.append(text)
        self.text_ids.append(text_ids)
        self.offsets.append(offsets)
        self.origins.append(origin)
        self.dts.append(time_steps(ink) if self.keep_time else None)
        self.counts.append(line_counts(ink, text, report))
        self.splits += report.split

    def add_many(
        self,
        lines: Sequence[LineFields],
        cleaned: Sequence[tuple[Ink, CleanReport]],
    ) -> None:
        """`add` of each line ((line, form, writer, text, text ids) with its ink and report),
        the offsets and time steps of all computed together: the same rows as `add`, exactly."""
        inks = [ink for ink, _ in cleaned]
        offsets, origins = batch_offsets(inks)
        dts = batch_time_steps(inks) if self.keep_time else [None] * len(inks)
        for (line_id, form_id, writer_id, text, text_ids), (ink, report) in zip(
            lines, cleaned, strict=True
        ):
            self.ids.append(line_id)
            self.forms.append(form_id)
            self.writers.append(writer_id)
            self.texts.append(text)
            self.text_ids.append(text_ids)
            self.counts.append(line_counts(ink, text, report))
            self.splits += report.split
        self.offsets += offsets
        self.origins += origins
        self.dts += dts

    def __len__(self) -> int:
        return len(self.ids)

    def table(self) -> pa.Table:
        counts = np.asarray(self.counts, dtype=np.int32).reshape(-1, len(COUNT_COLUMNS))
        columns: dict[str, Any] = {
            "line_id": pa.array(self.ids, pa.string()),
            "form_id": pa.array(self.forms, pa.string()),
            "writer_id": pa.array(self.writers, pa.string()),
            "text": pa.array(self.texts, pa.string()),
            "text_ids": list_array(self.text_ids, pa.uint16()),
            "offsets": offsets_array(self.offsets),
            "origin": pa.FixedSizeListArray.from_arrays(
                pa.array(_concat(self.origins, np.int32), pa.int32()), 2
            ),
            "dt": nullable_list_array(self.dts, pa.float32()),
        }
        for index, name in enumerate(COUNT_COLUMNS):
            columns[name] = pa.array(counts[:, index], pa.int32())
        return pa.table(columns)

    def totals(self) -> dict[str, int]:
        """Sums for the manifest, and the exact integer moments normalisation is built from.

        Keys starting with `_` stay out of the manifest's split entries. The moments leave out
        each line's first row, which is (0, 0) by construction.
        """
        counts = np.asarray(self.counts, dtype=np.int64).reshape(-1, len(COUNT_COLUMNS))
        sums = counts.sum(axis=0)
        steps = _concat([o[1:, :2] for o in self.offsets], np.float32).reshape(-1, 2)
        whole = steps.astype(np.int64)
        return {
            **{name: int(sums[i]) for i, name in enumerate(HANDWRITING_COUNTS)},
            "split_strokes": self.splits,
            "_n": len(whole),
            "_sx": int(whole[:, 0].sum()),
            "_sy": int(whole[:, 1].sum()),
            "_sxx": int((whole[:, 0] ** 2).sum()),
            "_syy": int((whole[:, 1] ** 2).sum()),
        }


def line_counts(ink: Ink, text: str, report: CleanReport) -> tuple[int, ...]:
    """A line's values of the count columns, in `COUNT_COLUMNS` order."""
    return (
        ink.n_points,
        ink.n_strokes,
        len(text),
        report.interpolated,
        report.dropped,
        report.time_repaired,
        report.empty_strokes,
    )


def _concat(parts: Sequence[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def _offsets_of(parts: Sequence[npt.NDArray[Any]]) -> npt.NDArray[np.int32]:
    return np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int32)


def list_array(parts: Sequence[npt.NDArray[Any]], value_type: pa.DataType) -> pa.Array:
    values = pa.array(_concat(parts, value_type.to_pandas_dtype()), value_type)
    return pa.ListArray.from_arrays(pa.array(_offsets_of(parts)), values)


def offsets_array(parts: Sequence[npt.NDArray[np.float32]]) -> pa.Array:
    flat = _concat([p.reshape(-1) for p in parts], np.float32)
    rows = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), 3)
    return pa.ListArray.from_arrays(pa.array(_offsets_of(parts)), rows)


def nullable_list_array(
    parts: Sequence[npt.NDArray[Any] | None], value_type: pa.DataType
) -> pa.Array:
    if all(p is None for p in parts):
        return pa.nulls(len(parts), pa.list_(value_type))
    filled = [p if p is not None else np.zeros(0) for p in parts]
    array = list_array(filled, value_type)
    # the validity bitmap given as a buffer: `from_arrays(..., mask=)` imports pyarrow.compute
    # (about 0.05 s, in every worker's first unit)
    valid = pa.array(np.asarray([p is not None for p in parts], dtype=bool)).buffers()[1]
    return pa.Array.from_buffers(
        pa.list_(value_type),
        len(parts),
        [valid, array.offsets.buffers()[1]],
        children=[array.values],
    )


def _line_starts(inks: Sequence[Ink]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(first point, number of points) of each line in the lines' points joined."""
    counts = np.asarray([ink.n_points for ink in inks], dtype=np.int64)
    return np.cumsum(counts) - counts, counts


def batch_offsets(
    inks: Sequence[Ink],
) -> tuple[list[npt.NDArray[np.float32]], list[npt.NDArray[np.int32]]]:
    """`to_offsets` of every line, computed over all lines' points at once."""
    if not inks:
        return [], []
    starts, counts = _line_starts(inks)
    x = np.concatenate([ink.x for ink in inks])
    y = np.concatenate([ink.y for ink in inks])
    out = np.zeros((len(x), 3), dtype=np.float32)
    out[1:, 0] = np.diff(x)
    out[1:, 1] = np.diff(y)
    first = starts[counts > 0]
    out[first, :2] = 0.0  # each line's first row: its own origin, no step
    # each stroke's last point (of a stroke with points), over all lines at once
    ends = np.concatenate([ink.ends for ink in inks]).astype(np.int64)
    stroke_start = np.repeat(starts, [len(ink.ends) for ink in inks])
    out[(ends + stroke_start - 1)[ends > 0], 2] = 1.0
    parts = np.split(out, np.cumsum(counts)[:-1])
    origins = np.zeros((len(inks), 2), dtype=np.int32)  # (0, 0) for a line with no points
    lines = np.flatnonzero(counts > 0)
    origins[lines, 0], origins[lines, 1] = x[starts[lines]], y[starts[lines]]
    return parts, list(origins)


def batch_time_steps(inks: Sequence[Ink]) -> list[npt.NDArray[np.float32] | None]:
    """`time_steps` of every line, computed over all lines' times at once."""
    if not inks:
        return []
    starts, counts = _line_starts(inks)
    t = np.concatenate([ink.t if ink.t is not None else np.zeros(ink.n_points) for ink in inks])
    dt = np.zeros(len(t), dtype=np.float32)
    dt[1:] = np.diff(t).astype(np.float32)
    dt[starts[counts > 0]] = 0.0
    parts = np.split(dt, np.cumsum(counts)[:-1])
    return [None if ink.t is None else part for ink, part in zip(inks, parts, strict=True)]
