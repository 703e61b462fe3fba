"""Pure stroke transforms: the cleaning the paper describes, then offsets.

Graves (2013, section 4): "recording errors in the x, y data was corrected by interpolating to
fill in for missing readings, and removing steps whose length exceeded a certain threshold."
Each step here is a pure function of arrays and parameters, in the order `clean` applies them:

1. `repair_time`     timestamps that are zero or break the time order (a known fault of the
                     release: `time="0.00"` inside a stroke) are re-estimated from their
                     neighbours; the points themselves are kept.
2. `fill_dropped`    a gap in time of more than `gap_factor` sampling periods inside a stroke
                     means readings were lost: the missing ones are filled by linear
                     interpolation: round(gap / period) - 1 points, capped at `max_fill`;
                     a longer gap (a pause inside a stroke) still gets `max_fill` points,
                     spread evenly: it is never left unfilled.
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

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

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
        ends = self.ends
        if len(ends) and (ends[-1] != n or ends[0] < 0 or (ends[1:] < ends[:-1]).any()):
            raise ValueError("stroke ends must be non-decreasing and end at the number of points")
        if not len(self.ends) and n:
            raise ValueError("points without strokes")

    @staticmethod
    def built(x: IntArray, y: IntArray, t: FloatArray | None, ends: IntArray) -> Ink:
        """An Ink whose arrays hold its invariants by how they were made (a line cut from a
        batch whose stroke ends are cumulative counts): the checks of `__post_init__`, a
        dozen small numpy calls, skipped for the thousands of lines of a unit."""
        ink = object.__new__(Ink)
        ink.__dict__.update(x=x, y=y, t=t, ends=ends)
        return ink

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
    return Ink(cat_ints(xs), cat_ints(ys), t if has_time else None, ends)


def cat_ints(parts: list[IntArray]) -> IntArray:
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
    candidates = np.flatnonzero(np.isfinite(values) & (values > 0)).tolist()
    tails: list[float] = []  # sorted: bisect_right on it is searchsorted(side="right")
    tail_at: list[int] = []
    parent = [-1] * len(values)
    for i, v in zip(candidates, values[candidates].tolist(), strict=True):
        pos = bisect_right(tails, v)
        if pos > 0:
            parent[i] = tail_at[pos - 1]
        if pos == len(tails):
            tails.append(v)
            tail_at.append(i)
        else:
            tails[pos] = v
            tail_at[pos] = i
    mask = np.zeros(len(values), dtype=bool)
    node = tail_at[-1] if tail_at else -1
    while node >= 0:
        mask[node] = True
        node = parent[node]
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
    round(gap / period) - 1 readings, capped at max_fill (a longer gap, a pause of the pen
    inside a stroke, gets exactly max_fill: the cap bounds the points one gap can add, it does
    not leave the gap unfilled): they are placed evenly along the step, in space and time, on
    the integer grid.
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
