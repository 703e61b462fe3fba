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
        self.counts.append(
            (
                ink.n_points,
                ink.n_strokes,
                len(text),
                report.interpolated,
                report.dropped,
                report.time_repaired,
                report.empty_strokes,
            )
        )
        self.splits += report.split

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
    mask = pa.array([p is None for p in parts])
    return pa.ListArray.from_arrays(array.offsets, array.values, mask=mask)
