"""Many lines cleaned at once: `clean_batch` gives, line for line, exactly what
`strokes.clean` gives, with segment-wise numpy over all the lines of a unit instead of
per-line `diff` and `median` calls (on ~630-point lines those calls, not the arithmetic, were
the cost). The per-line functions of `strokes` stay the definition and the tests' oracle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from graves_data.pipelines.compiled import optional_module
from graves_data.pipelines.strokes import (
    CleanParams,
    CleanReport,
    FloatArray,
    Ink,
    IntArray,
    cat_ints,
    drop_duplicates,
    drop_empty_strokes,
    remove_spikes,
    repair_time,
)

COMPILED = optional_module("graves_data.pipelines._strokeclean")  # the kernels, where built


@dataclass(frozen=True)
class InkBatch:
    """Many lines' points in one set of arrays: line i is points[i]:points[i+1] and strokes
    strokes[i]:strokes[i+1] of `ends` (global point indices); `t` is 0 where a line has none."""

    x: IntArray
    y: IntArray
    t: FloatArray
    timed: npt.NDArray[np.bool_]
    ends: IntArray
    points: IntArray
    strokes: IntArray

    @staticmethod
    def of(inks: Sequence[Ink]) -> InkBatch:
        points = np.zeros(len(inks) + 1, dtype=np.int64)
        points[1:] = np.cumsum([ink.n_points for ink in inks])
        strokes = np.zeros(len(inks) + 1, dtype=np.int64)
        strokes[1:] = np.cumsum([ink.n_strokes for ink in inks])
        times = [ink.t if ink.t is not None else np.zeros(ink.n_points) for ink in inks]
        return InkBatch(
            cat_ints([ink.x for ink in inks]),
            cat_ints([ink.y for ink in inks]),
            np.concatenate(times).astype(np.float64) if inks else np.zeros(0),
            np.asarray([ink.t is not None for ink in inks], dtype=bool),
            cat_ints([ink.ends + points[i] for i, ink in enumerate(inks)]),
            points,
            strokes,
        )

    @property
    def n_lines(self) -> int:
        return len(self.points) - 1

    def line(self, i: int) -> Ink:
        a, b = int(self.points[i]), int(self.points[i + 1])
        ends = self.ends[self.strokes[i] : self.strokes[i + 1]] - a
        return Ink.built(self.x[a:b], self.y[a:b], self.t[a:b] if self.timed[i] else None, ends)

    def lines_beyond(self, limit: int) -> npt.NDArray[np.bool_]:
        """For each line, whether one of its coordinates lies beyond +-`limit`."""
        far = (np.abs(self.x) > limit) | (np.abs(self.y) > limit)
        found: npt.NDArray[np.bool_] = (
            np.bincount(self.point_line()[far], minlength=self.n_lines) > 0
        )
        return found

    def point_line(self) -> IntArray:
        """For each point, the index of its line."""
        return np.repeat(np.arange(self.n_lines, dtype=np.int64), np.diff(self.points))

    def steps_within(self) -> npt.NDArray[np.bool_]:
        """For each step i -> i+1, whether both points are in the same stroke (of one line)."""
        n = len(self.x)
        within = np.ones(max(n - 1, 0), dtype=bool)
        within[self.ends[(self.ends > 0) & (self.ends < n)] - 1] = False
        return within

    def step_line(self) -> IntArray:
        return self.point_line()[:-1]

    def select(self, keep: npt.NDArray[np.bool_]) -> InkBatch:
        """The points where `keep`, strokes kept (possibly empty)."""
        before = np.zeros(len(keep) + 1, dtype=np.int64)
        before[1:] = np.cumsum(keep)
        return replace(
            self,
            x=self.x[keep],
            y=self.y[keep],
            t=self.t[keep],
            ends=before[self.ends],
            points=before[self.points],
        )


def clean_batch(inks: Sequence[Ink], params: CleanParams) -> list[tuple[Ink, CleanReport]]:
    """`clean` of every line, computed for all lines together: the same results, exactly.

    The common case is done segment-wise over all lines at once; the rare lines that need
    repaired timestamps or spike removal go through the per-line steps for that step (which
    stay the definition: the tests compare both on generated lines).
    """
    return clean_ink_batch(InkBatch.of(inks), params)


def clean_ink_batch(batch: InkBatch, params: CleanParams) -> list[tuple[Ink, CleanReport]]:
    """`clean_batch` of lines already joined in an InkBatch."""
    if batch.n_lines == 0:
        return []
    batch, repaired = _repair_time_batch(batch)
    batch, filled = _fill_dropped_batch(batch, params.gap_factor, params.max_fill)
    spiky = _lines_with_breaks(batch, params.spike_threshold)
    batch, dropped = _drop_duplicates_batch(batch)
    batch, empty = _drop_empty_strokes_batch(batch)
    out: list[tuple[Ink, CleanReport]] = []
    for i in range(batch.n_lines):
        line = spiky[i]
        if line is not None:
            out.append(_clean_tail(line, int(repaired[i]), int(filled[i]), params))
            continue
        report = CleanReport(int(repaired[i]), int(filled[i]), int(dropped[i]), 0, int(empty[i]))
        out.append((batch.line(i), report))
    return out


def _clean_tail(
    ink: Ink, repaired: int, filled: int, params: CleanParams
) -> tuple[Ink, CleanReport]:
    """Steps 3 to 5 of `clean`, for one line that has over-long steps."""
    ink, spiked, splits = remove_spikes(ink, params.spike_threshold, params.spike_width)
    ink, duplicates = drop_duplicates(ink)
    ink, empty = drop_empty_strokes(ink)
    return ink, CleanReport(repaired, filled, spiked + duplicates, splits, empty)


def _per_line(batch: InkBatch, values: npt.NDArray[Any], steps: bool = True) -> IntArray:
    """Per line, how many of the steps (or points) where `values` is True."""
    where = batch.step_line() if steps else batch.point_line()
    return np.bincount(where[values], minlength=batch.n_lines).astype(np.int64)


def _repair_time_batch(batch: InkBatch) -> tuple[InkBatch, IntArray]:
    repaired = np.zeros(batch.n_lines, dtype=np.int64)
    if not len(batch.x):
        return batch, repaired
    t = batch.t
    timed_point = batch.timed[batch.point_line()]
    fault = timed_point & ~((t > 0) & np.isfinite(t))
    backwards = (np.diff(t) < 0) & (batch.step_line() == batch.point_line()[1:])
    backwards &= timed_point[1:]
    needs = (_per_line(batch, fault, steps=False) + _per_line(batch, backwards)) > 0
    if not needs.any():
        return batch, repaired
    t, timed = t.copy(), batch.timed.copy()
    for i in np.flatnonzero(needs):
        ink, repaired[i] = repair_time(batch.line(int(i)))
        a, b = batch.points[i], batch.points[i + 1]
        if ink.t is None:
            timed[i] = False
            t[a:b] = 0.0
        else:
            t[a:b] = ink.t
    return replace(batch, t=t, timed=timed), repaired


def _sampling_periods(batch: InkBatch) -> FloatArray:
    """`sampling_period` of every line (NaN where it has none): by the compiled kernel where
    it is built (one pass a line, about 6 times faster on the real release), else by
    `_sampling_periods_numpy`; both give the same bits (the tests compare them)."""
    if COMPILED is None:
        return _sampling_periods_numpy(batch)
    period = np.empty(batch.n_lines, dtype=np.float64)
    COMPILED.sampling_periods(
        np.ascontiguousarray(batch.t, dtype=np.float64),
        np.ascontiguousarray(batch.points, dtype=np.int64),
        np.ascontiguousarray(batch.strokes, dtype=np.int64),
        np.ascontiguousarray(batch.ends, dtype=np.int64),
        np.ascontiguousarray(batch.timed, dtype=np.uint8),
        period,
    )
    return period


def _sampling_periods_numpy(batch: InkBatch) -> FloatArray:
    """`_sampling_periods` with segment-wise numpy over all lines."""
    period = np.full(batch.n_lines, np.nan)
    if len(batch.x) < 2:
        return period
    dt = np.diff(batch.t)
    line = batch.step_line()
    step = batch.steps_within() & batch.timed[line]
    positive = step & (dt > 0)
    pos_line, pos_dt = line[positive], dt[positive]
    sorted_dt = _sorted_within(pos_dt, pos_line, batch.n_lines)
    count = np.bincount(pos_line, minlength=batch.n_lines)
    first = np.cumsum(count) - count
    has = count > 0
    low = sorted_dt[(first + (count - 1) // 2)[has]]
    high = sorted_dt[(first + count // 2)[has]]
    median = np.full(batch.n_lines, np.nan)
    median[has] = np.where(count[has] % 2 == 1, low, (low + high) / 2)
    regular = step & (dt >= 0) & (dt <= 2 * median[line])
    reg_line, reg_dt = line[regular], dt[regular]
    reg_count = np.bincount(reg_line, minlength=batch.n_lines)
    reg_first = np.cumsum(reg_count) - reg_count
    for i in np.flatnonzero(has & (reg_count > 0)):
        # np.mean's own (pairwise) sum, so that each line's period is bit-identical to
        # `sampling_period`; a plain segment sum (add.reduceat) rounds differently
        a = reg_first[i]
        period[i] = float(reg_dt[a : a + reg_count[i]].mean())
    period[~(period > 0)] = np.nan
    return period


def _sorted_within(values: FloatArray, line: IntArray, n_lines: int) -> FloatArray:
    """`values` sorted within each line's run (`line` non-decreasing): the values of
    lexsort((values, line)). Each value is replaced by its rank among the distinct values
    (a unit's time steps take a few hundred), the line and the rank packed in one int64 and
    those sorted: numpy sorts plain numbers with SIMD, some 20 times faster than it argsorts
    them. Equal values are the same floats, so their order does not show."""
    distinct = np.unique(values)
    if n_lines >= 1 << 31 or len(distinct) >= 1 << 32:
        return values[np.lexsort((values, line))]
    key = (line.astype(np.int64) << 32) | np.searchsorted(distinct, values)
    key.sort()
    found: FloatArray = distinct[key & 0xFFFFFFFF]
    return found


def _fill_dropped_batch(
    batch: InkBatch, gap_factor: float, max_fill: int
) -> tuple[InkBatch, IntArray]:
    period = _sampling_periods(batch)
    filled = np.zeros(batch.n_lines, dtype=np.int64)
    if len(batch.x) < 2:
        return batch, filled
    line = batch.step_line()
    # a line without a period has no gaps: its threshold is infinite (dt is finite)
    threshold = np.where(np.isnan(period), np.inf, gap_factor * period)
    dt = np.diff(batch.t)
    gap = np.flatnonzero((dt > threshold[line]) & batch.steps_within())
    # the arithmetic of `fill_dropped`, at the gaps only
    missing = np.minimum(np.rint(dt[gap] / period[line[gap]]) - 1, max_fill)
    missing = np.maximum(missing.astype(np.int64), 0)
    filled = np.bincount(line[gap], weights=missing, minlength=batch.n_lines).astype(np.int64)
    if not filled.any():
        return batch, filled
    gap, count = gap[missing > 0], missing[missing > 0]
    before = np.zeros(len(gap) + 1, dtype=np.int64)  # points filled after the gaps before
    before[1:] = np.cumsum(count)
    # the k-th of the m points filled after point i: i + k / (m + 1) of the way to point i + 1
    # (the same arithmetic as `fill_dropped`), at index i + 1 + (points filled before it)
    base = np.repeat(gap, count)
    k = np.arange(len(base)) - np.repeat(before[:-1], count) + 1
    frac = k / np.repeat(count + 1, count)
    at = base + np.arange(len(base)) + 1
    total = len(batch.x) + len(base)
    original = np.ones(total, dtype=bool)
    original[at] = False
    x, y = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)
    t = np.empty(total, dtype=np.float64)
    x[original], y[original], t[original] = batch.x, batch.y, batch.t
    x[at] = np.rint(batch.x[base] + frac * (batch.x[base + 1] - batch.x[base]))
    y[at] = np.rint(batch.y[base] + frac * (batch.y[base + 1] - batch.y[base]))
    t[at] = batch.t[base] + frac * (batch.t[base + 1] - batch.t[base])

    def moved(index: IntArray) -> IntArray:  # where point `index` (or the end n) now is
        shifted: IntArray = index + before[np.searchsorted(gap, index)]
        return shifted

    return InkBatch(
        x, y, t, batch.timed, moved(batch.ends), moved(batch.points), batch.strokes
    ), filled


def _lines_with_breaks(batch: InkBatch, threshold: float) -> list[Ink | None]:
    """Each line with a step longer than `threshold` inside a stroke (as an Ink), else None."""
    out: list[Ink | None] = [None] * batch.n_lines
    if len(batch.x) < 2:
        return out
    dx, dy = np.diff(batch.x), np.diff(batch.y)
    # squared integer steps, exact (coordinates are under 2**23): every step longer than
    # `threshold` by hypot, and at most a few within rounding of it, whose lines then take
    # the per-line steps, which are the definition and give them the same result
    long = dx * dx + dy * dy > threshold * threshold * (1 - 1e-9)
    breaks = batch.steps_within() & long
    for i in np.flatnonzero(_per_line(batch, breaks)):
        out[int(i)] = batch.line(int(i))
    return out


def _drop_duplicates_batch(batch: InkBatch) -> tuple[InkBatch, IntArray]:
    if len(batch.x) < 2:
        return batch, np.zeros(batch.n_lines, dtype=np.int64)
    line = batch.step_line()
    same = (np.diff(batch.x) == 0) & (np.diff(batch.y) == 0) & batch.steps_within()
    same &= batch.timed[line] & (np.diff(batch.t) == 0)
    dropped = _per_line(batch, same)
    if not same.any():
        return batch, dropped
    return batch.select(np.concatenate([[True], ~same])), dropped


def _drop_empty_strokes_batch(batch: InkBatch) -> tuple[InkBatch, IntArray]:
    lengths = np.diff(np.concatenate([[0], batch.ends]))
    empty = lengths == 0
    stroke_line = np.repeat(np.arange(batch.n_lines), np.diff(batch.strokes))
    count = np.bincount(stroke_line[empty], minlength=batch.n_lines).astype(np.int64)
    if not empty.any():
        return batch, count
    kept = np.zeros(batch.n_lines + 1, dtype=np.int64)
    kept[1:] = np.cumsum(np.diff(batch.strokes) - count)
    return replace(batch, ends=batch.ends[~empty], strokes=kept), count
