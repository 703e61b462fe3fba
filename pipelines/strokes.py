"""Pure stroke transforms: the cleaning the paper describes, then offsets.

Graves (2013, section 4): "recording errors in the x, y data was corrected by interpolating to
fill in for missing readings, and removing steps whose length exceeded a certain threshold."
Each step here is a pure function of arrays and parameters, in the order `clean` applies them:

1. `repair_time`     timestamps that are zero or break the time order (a known fault of the
                     release: `time="0.00"` inside a stroke) are re-estimated from their
                     neighbours; the points themselves are kept.
2. `fill_dropped`    a gap in time of more than `gap_factor` sampling periods inside a stroke
                     means readings were lost: the missing ones are filled by linear
                     interpolation (at most `max_fill` per gap; a longer gap is a pause).
3. `remove_spikes`   a step longer than `spike_threshold` inside a stroke is a recording
                     error: a short run of points (at most `spike_width`) cut off by such steps
                     is dropped; where long runs are on both sides the stroke is split there,
                     so the long step becomes a pen-up move instead of ink.
4. `drop_duplicates` consecutive readings identical in x, y and time.
5. `drop_empty_strokes`.

Then `to_offsets` gives (dx, dy, end_of_stroke) rows and `from_offsets` inverts it exactly:
coordinates stay integers (interpolated points are rounded to the board's integer grid), so the
float32 offsets hold them without loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Ink:
    """Pen points of one text line, strokes concatenated.

    x, y: integer board coordinates; t: seconds (float64, absolute) or None where the source
    has no time; ends: index one past the last point of each stroke (non-decreasing, the last
    equal to the number of points), so stroke k is points ends[k-1]:ends[k].
    """

    x: IntArray
    y: IntArray
    t: FloatArray | None
    ends: IntArray

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n or (self.t is not None and len(self.t) != n):
            raise ValueError("x, y and t differ in length")
        if len(self.ends) and (
            self.ends[-1] != n or np.any(np.diff(self.ends) < 0) or self.ends[0] < 0
        ):
            raise ValueError("stroke ends must be non-decreasing and end at the number of points")
        if not len(self.ends) and n:
            raise ValueError("points without strokes")

    @property
    def n_points(self) -> int:
        return len(self.x)

    @property
    def n_strokes(self) -> int:
        return len(self.ends)

    def starts(self) -> IntArray:
        return np.concatenate([[0], self.ends[:-1]]).astype(np.int64)

    def stroke_ids(self) -> IntArray:
        """For each point, the index of its stroke."""
        return np.repeat(
            np.arange(self.n_strokes, dtype=np.int64), np.diff(np.concatenate([[0], self.ends]))
        )

    @cached_property
    def steps_within(self) -> npt.NDArray[np.bool_]:
        """For each step i -> i+1, whether both points are in the same stroke."""
        n = self.n_points
        within = np.ones(max(n - 1, 0), dtype=bool)
        last = self.ends[(self.ends > 0) & (self.ends < n)] - 1
        within[last] = False
        return within

    def within_stroke(self) -> npt.NDArray[np.bool_]:
        return self.steps_within

    def select(self, keep: npt.NDArray[np.bool_]) -> Ink:
        """The points where `keep`, strokes kept (possibly empty)."""
        kept_before = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)
        return Ink(
            self.x[keep],
            self.y[keep],
            None if self.t is None else self.t[keep],
            kept_before[self.ends],
        )


def make_ink(strokes: list[tuple[list[int], list[int], list[float] | None]]) -> Ink:
    """An Ink from per-stroke lists (for tests and small inputs)."""
    xs = [np.asarray(s[0], dtype=np.int64) for s in strokes]
    ys = [np.asarray(s[1], dtype=np.int64) for s in strokes]
    has_time = all(s[2] is not None for s in strokes)
    ts = [np.asarray(s[2], dtype=np.float64) for s in strokes] if has_time else []
    ends = np.cumsum([len(x) for x in xs]).astype(np.int64)
    t = np.concatenate(ts).astype(np.float64) if ts else np.zeros(0, np.float64)
    return Ink(_cat_int(xs), _cat_int(ys), t if has_time else None, ends)


def _cat_int(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


@dataclass(frozen=True)
class CleanParams:
    gap_factor: float = 2.5
    max_fill: int = 10
    spike_threshold: float = 600.0
    spike_width: int = 2


@dataclass(frozen=True)
class CleanReport:
    time_repaired: int = 0
    interpolated: int = 0
    dropped: int = 0
    split: int = 0
    empty_strokes: int = 0


# --------------------------------------------------------------------------------------------
# 1. timestamps


def repair_time(ink: Ink) -> tuple[Ink, int]:
    """Re-estimate timestamps that are zero or out of order; return the count repaired.

    The valid times are the longest non-decreasing run through the line (zeros excluded);
    the others are interpolated linearly by point index between valid neighbours (and
    extrapolated with the median period at the ends). With fewer than two valid times the line
    keeps no time at all.
    """
    if ink.t is None or ink.n_points == 0:
        return ink, 0
    t = ink.t
    if np.all(t > 0) and np.all(np.isfinite(t)) and np.all(np.diff(t) >= 0):
        return ink, 0  # the common case, checked without the O(n log n) search
    valid = _longest_nondecreasing(t) & (t > 0) & np.isfinite(t)
    bad = int(np.count_nonzero(~valid))
    if bad == 0:
        return ink, 0
    if np.count_nonzero(valid) < 2:
        return Ink(ink.x, ink.y, None, ink.ends), ink.n_points
    index = np.arange(ink.n_points, dtype=np.float64)
    known = np.flatnonzero(valid)
    repaired = np.interp(index, known.astype(np.float64), t[known])
    period = float(np.median(np.diff(t[known]) / np.diff(known)))
    before, after = index < known[0], index > known[-1]
    repaired[before] = t[known[0]] - (known[0] - index[before]) * period
    repaired[after] = t[known[-1]] + (index[after] - known[-1]) * period
    return Ink(ink.x, ink.y, repaired, ink.ends), bad


def _longest_nondecreasing(values: FloatArray) -> npt.NDArray[np.bool_]:
    """Mask of one longest non-decreasing subsequence over the finite, positive values."""
    candidates = np.flatnonzero(np.isfinite(values) & (values > 0))
    tails: list[float] = []
    tail_at: list[int] = []
    parent = np.full(len(values), -1, dtype=np.int64)
    for i in candidates:
        v = float(values[i])
        pos = int(np.searchsorted(np.asarray(tails), v, side="right"))
        if pos > 0:
            parent[i] = tail_at[pos - 1]
        if pos == len(tails):
            tails.append(v)
            tail_at.append(int(i))
        else:
            tails[pos] = v
            tail_at[pos] = int(i)
    mask = np.zeros(len(values), dtype=bool)
    node = tail_at[-1] if tail_at else -1
    while node >= 0:
        mask[node] = True
        node = int(parent[node])
    return mask


# --------------------------------------------------------------------------------------------
# 2. dropped readings


def sampling_period(ink: Ink) -> float | None:
    """The line's sampling period, from its regular time steps inside strokes.

    Times are quantised (the release writes centiseconds), so a pen sampled every 15 ms shows
    steps of 0.01 and 0.02 s: the period is the mean of the regular steps (those up to twice
    the median positive step), not their median.
    """
    if ink.t is None or ink.n_points < 2:
        return None
    dt = np.diff(ink.t)[ink.within_stroke()]
    positive = dt[dt > 0]
    if len(positive) == 0:
        return None
    regular = dt[(dt >= 0) & (dt <= 2 * np.median(positive))]
    period = float(regular.mean())
    return period if period > 0 else None


def fill_dropped(
    ink: Ink, period: float | None, gap_factor: float, max_fill: int
) -> tuple[Ink, int]:
    """Insert interpolated points where readings were lost; return the count inserted.

    A step inside a stroke whose time gap exceeds gap_factor * period is missing
    round(gap / period) - 1 readings (at most max_fill): they are placed evenly along the
    step, in space and time, on the integer grid.
    """
    if ink.t is None or period is None or period <= 0 or ink.n_points < 2:
        return ink, 0
    dt = np.diff(ink.t)
    gaps = ink.within_stroke() & (dt > gap_factor * period)
    missing = np.where(gaps, np.minimum(np.rint(dt / period) - 1, max_fill), 0).astype(np.int64)
    missing = np.maximum(missing, 0)
    total = int(missing.sum())
    if total == 0:
        return ink, 0
    counts = np.concatenate([missing, [0]])  # points inserted after point i
    repeat = counts + 1
    base = np.repeat(np.arange(ink.n_points), repeat)
    # fraction along step i for each emitted point: 0 for the original, k/(m+1) for inserted
    offset_in_group = np.arange(len(base)) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    frac = offset_in_group / np.repeat(repeat, repeat)
    nxt = np.minimum(base + 1, ink.n_points - 1)
    x = np.rint(ink.x[base] + frac * (ink.x[nxt] - ink.x[base])).astype(np.int64)
    y = np.rint(ink.y[base] + frac * (ink.y[nxt] - ink.y[base])).astype(np.int64)
    t = ink.t[base] + frac * (ink.t[nxt] - ink.t[base])
    position = np.concatenate([[0], np.cumsum(repeat)]).astype(np.int64)  # new index of old index
    return Ink(x, y, t, position[ink.ends]), total


# --------------------------------------------------------------------------------------------
# 3. spikes


def remove_spikes(ink: Ink, threshold: float, max_width: int) -> tuple[Ink, int, int]:
    """Drop short runs cut off by over-long steps; split strokes at the others.

    Inside each stroke, steps longer than `threshold` cut the points into runs. A short run
    (at most `max_width` points) between two runs that are close to each other is a spike:
    dropped. A short run at either end of the stroke, cut off from a longer run, is a stray
    reading: dropped. What remains is split into strokes at the long steps, which become pen-up
    moves. Returns the cleaned ink, the number of points dropped and the number of splits.
    """
    if ink.n_points < 2:
        return ink, 0, 0
    step = np.hypot(np.diff(ink.x), np.diff(ink.y))
    breaks = ink.within_stroke() & (step > threshold)
    if not breaks.any():
        return ink, 0, 0
    keep = np.ones(ink.n_points, dtype=bool)
    new_ends: list[int] = []
    splits = 0
    for start, end in zip(ink.starts(), ink.ends, strict=True):
        runs = _runs(int(start), int(end), breaks)
        spans = _despike(runs, ink, threshold, max_width)
        kept = {run for span in spans for run in span}
        for a, b in runs:
            if (a, b) not in kept:
                keep[a:b] = False
        splits += max(0, len(spans) - 1)
        new_ends.extend(span[-1][1] for span in spans)
        if not spans:
            new_ends.append(int(end))
    remap = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)
    x, y = ink.x[keep], ink.y[keep]
    t = None if ink.t is None else ink.t[keep]
    return (
        Ink(x, y, t, remap[np.asarray(new_ends, dtype=np.int64)]),
        int(np.count_nonzero(~keep)),
        splits,
    )


Span = list[tuple[int, int]]


def _despike(runs: list[tuple[int, int]], ink: Ink, threshold: float, max_width: int) -> list[Span]:
    """Group a stroke's runs into the spans that survive; each span becomes one stroke.

    1. A short run between two runs that are close to each other is a spike: it is dropped and
       its neighbours join into one span.
    2. Short spans left over are stray readings: dropped, unless no longer span exists, in
       which case the longest is kept.
    """
    spans: list[Span] = [[run] for run in runs]
    i = 1
    while i < len(spans) - 1:
        before, after = spans[i - 1][-1][1] - 1, spans[i + 1][0][0]
        if _size(spans[i]) <= max_width and _distance(ink, before, after) <= threshold:
            spans[i - 1 : i + 2] = [spans[i - 1] + spans[i + 1]]
            i = max(1, i - 1)
        else:
            i += 1
    long_spans = [span for span in spans if _size(span) > max_width]
    if long_spans or not spans:
        return long_spans
    return [max(spans, key=_size)]


def _size(span: Span) -> int:
    return sum(b - a for a, b in span)


def _distance(ink: Ink, i: int, j: int) -> float:
    return float(np.hypot(ink.x[j] - ink.x[i], ink.y[j] - ink.y[i]))


def _runs(start: int, end: int, breaks: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Runs of points [a, b) inside stroke [start, end) separated by break steps."""
    if end <= start:
        return []
    cuts = [start] + [int(i) + 1 for i in np.flatnonzero(breaks[start : end - 1]) + start] + [end]
    return list(pairwise(cuts))


# --------------------------------------------------------------------------------------------
# 4, 5. duplicates and empty strokes


def drop_duplicates(ink: Ink) -> tuple[Ink, int]:
    """Drop a reading identical (x, y, t) to the one before it in the same stroke."""
    if ink.n_points < 2:
        return ink, 0
    same = (np.diff(ink.x) == 0) & (np.diff(ink.y) == 0) & ink.within_stroke()
    if ink.t is not None:
        same &= np.diff(ink.t) == 0
    else:
        same &= False
    if not same.any():
        return ink, 0
    keep = np.concatenate([[True], ~same])
    return ink.select(keep), int(np.count_nonzero(same))


def drop_empty_strokes(ink: Ink) -> tuple[Ink, int]:
    lengths = np.diff(np.concatenate([[0], ink.ends]))
    empty = lengths == 0
    if not empty.any():
        return ink, 0
    return Ink(ink.x, ink.y, ink.t, ink.ends[~empty]), int(np.count_nonzero(empty))


# --------------------------------------------------------------------------------------------
# all of it


def clean(ink: Ink, params: CleanParams) -> tuple[Ink, CleanReport]:
    ink, repaired = repair_time(ink)
    ink, filled = fill_dropped(ink, sampling_period(ink), params.gap_factor, params.max_fill)
    ink, spiked, splits = remove_spikes(ink, params.spike_threshold, params.spike_width)
    ink, duplicates = drop_duplicates(ink)
    ink, empty = drop_empty_strokes(ink)
    return ink, CleanReport(repaired, filled, spiked + duplicates, splits, empty)


# --------------------------------------------------------------------------------------------
# offsets


def to_offsets(ink: Ink) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]:
    """(dx, dy, end_of_stroke) per point, and the first point's absolute position.

    Row 0 is (0, 0, eos); end_of_stroke is 1 on the last point of each stroke.
    """
    n = ink.n_points
    out = np.zeros((n, 3), dtype=np.float32)
    if n == 0:
        return out, np.zeros(2, dtype=np.int32)
    out[1:, 0] = np.diff(ink.x)
    out[1:, 1] = np.diff(ink.y)
    ends = ink.ends[ink.ends > 0] - 1
    out[ends, 2] = 1.0
    return out, np.asarray([ink.x[0], ink.y[0]], dtype=np.int32)


def from_offsets(
    offsets: npt.NDArray[np.float32], origin: npt.ArrayLike
) -> tuple[IntArray, IntArray, IntArray]:
    """Absolute integer points and stroke ends back from offsets: the inverse of to_offsets."""
    start = np.asarray(origin, dtype=np.int64)
    steps = np.rint(np.asarray(offsets[:, :2], dtype=np.float64)).astype(np.int64)
    if len(steps):
        steps[0] = 0
    xy = start + np.cumsum(steps, axis=0)
    ends = np.flatnonzero(np.asarray(offsets[:, 2]) > 0.5).astype(np.int64) + 1
    return xy[:, 0], xy[:, 1], ends


def time_steps(ink: Ink) -> npt.NDArray[np.float32] | None:
    """Seconds since the previous point, 0 for the first; None without time."""
    if ink.t is None:
        return None
    dt = np.zeros(ink.n_points, dtype=np.float32)
    if ink.n_points > 1:
        dt[1:] = np.diff(ink.t).astype(np.float32)
    return dt


# --------------------------------------------------------------------------------------------
# many lines at once: the same cleaning, segment-wise


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
            _cat_int([ink.x for ink in inks]),
            _cat_int([ink.y for ink in inks]),
            np.concatenate(times).astype(np.float64) if inks else np.zeros(0),
            np.asarray([ink.t is not None for ink in inks], dtype=bool),
            _cat_int([ink.ends + points[i] for i, ink in enumerate(inks)]),
            points,
            strokes,
        )

    @property
    def n_lines(self) -> int:
        return len(self.points) - 1

    def line(self, i: int) -> Ink:
        a, b = int(self.points[i]), int(self.points[i + 1])
        ends = self.ends[self.strokes[i] : self.strokes[i + 1]] - a
        return Ink(self.x[a:b], self.y[a:b], self.t[a:b] if self.timed[i] else None, ends)

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
    if not inks:
        return []
    batch = InkBatch.of(inks)
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
    """`sampling_period` of every line (NaN where it has none)."""
    period = np.full(batch.n_lines, np.nan)
    if len(batch.x) < 2:
        return period
    dt = np.diff(batch.t)
    line = batch.step_line()
    step = batch.steps_within() & batch.timed[line]
    positive = step & (dt > 0)
    pos_line, pos_dt = line[positive], dt[positive]
    order = np.lexsort((pos_dt, pos_line))
    sorted_dt = pos_dt[order]
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


def _fill_dropped_batch(
    batch: InkBatch, gap_factor: float, max_fill: int
) -> tuple[InkBatch, IntArray]:
    period = _sampling_periods(batch)
    filled = np.zeros(batch.n_lines, dtype=np.int64)
    if len(batch.x) < 2:
        return batch, filled
    line = batch.step_line()
    has = ~np.isnan(period)
    step_period = np.where(has, period, 1.0)[line]
    dt = np.diff(batch.t)
    gaps = batch.steps_within() & has[line] & (dt > gap_factor * step_period)
    missing = np.where(gaps, np.minimum(np.rint(dt / step_period) - 1, max_fill), 0)
    missing = np.maximum(missing.astype(np.int64), 0)
    filled = np.bincount(line, weights=missing, minlength=batch.n_lines).astype(np.int64)
    if not filled.any():
        return batch, filled
    n = len(batch.x)
    repeat = np.concatenate([missing, [0]]) + 1
    base = np.repeat(np.arange(n), repeat)
    offset_in_group = np.arange(len(base)) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    frac = offset_in_group / np.repeat(repeat, repeat)
    last = (batch.points[1:] - 1)[batch.point_line()]
    nxt = np.minimum(base + 1, last[base])
    x = np.rint(batch.x[base] + frac * (batch.x[nxt] - batch.x[base])).astype(np.int64)
    y = np.rint(batch.y[base] + frac * (batch.y[nxt] - batch.y[base])).astype(np.int64)
    t = batch.t[base] + frac * (batch.t[nxt] - batch.t[base])
    changed = (filled > 0)[batch.point_line()][base]
    t = np.where(changed, t, batch.t[base])  # lines without a gap keep their times as they are
    position = np.zeros(n + 1, dtype=np.int64)
    position[1:] = np.cumsum(repeat)
    return InkBatch(
        x, y, t, batch.timed, position[batch.ends], position[batch.points], batch.strokes
    ), filled


def _lines_with_breaks(batch: InkBatch, threshold: float) -> list[Ink | None]:
    """Each line with a step longer than `threshold` inside a stroke (as an Ink), else None."""
    out: list[Ink | None] = [None] * batch.n_lines
    if len(batch.x) < 2:
        return out
    step = np.hypot(np.diff(batch.x), np.diff(batch.y))
    breaks = batch.steps_within() & (step > threshold)
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
