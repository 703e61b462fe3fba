"""The damage real stroke files have, injected into a line on purpose and recorded exactly.

Kinds, each seen in the release:
- `dropped`: a run of 3-8 readings lost inside a stroke, leaving a jump in time (and space);
- `spikes`: 1-2 readings thrown far (1.5-3.5 k board units) from the pen's path;
- `zero_times`: 1-4 readings whose time is `0.00` (h02-037-02.xml has them), at the start,
  inside or at the end of a stroke, so a stroke's start_time or end_time can read 0.00 too;
- `duplicates`: a reading repeated exactly (same x, y and time);
- `empty_strokes`: a `<Stroke>` element with no points.

Each kind goes to a different stroke where the line has enough, so one record never hides
another. Records use the positions in the file as written: `stroke` counts every `<Stroke>`
element (empty ones included), `point`/`after` count the points of that stroke from 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graves_data.synth._formats import IntArray, LineInk, stroke_times

LINE_DEFECTS = ("dropped", "spikes", "zero_times", "duplicates", "empty_strokes")
Record = dict[str, Any]

_MIN_POINTS = {"dropped": 6, "spikes": 3, "zero_times": 1, "duplicates": 2}


def damage(
    ink: LineInk, kinds: frozenset[str], rng: np.random.Generator
) -> tuple[LineInk, dict[str, list[Any]]]:
    """The line with the given kinds of damage, and what was done, by kind."""
    unknown = kinds - set(LINE_DEFECTS)
    if unknown:
        raise ValueError(f"unknown defect kinds: {sorted(unknown)}")
    sizes = np.diff(np.concatenate([[0], ink.ends]))
    chosen = _choose_strokes(
        sizes, [k for k in LINE_DEFECTS if k in kinds and k in _MIN_POINTS], rng
    )
    counts = np.ones(ink.n_points, np.int64)
    starts = ink.ends - sizes
    dropped: list[tuple[int, int, int]] = []  # stroke, original index before the gap, count
    if "dropped" in chosen:
        s = chosen["dropped"]
        n = int(sizes[s])
        k = int(rng.integers(3, min(8, n - 3) + 1))
        a = int(rng.integers(0, n - k - 1))  # keep point a, drop a+1 .. a+k, keep the last
        counts[starts[s] + a + 1 : starts[s] + a + 1 + k] = 0
        dropped.append((s, a, k))
    duplicated: list[tuple[int, int]] = []  # stroke, original index repeated
    if "duplicates" in chosen:
        s = chosen["duplicates"]
        n = int(sizes[s])
        for j in sorted(rng.choice(n, size=min(n, int(rng.integers(1, 3))), replace=False)):
            counts[starts[s] + j] = 2
            duplicated.append((s, int(j)))
    x, y, t = (np.repeat(a, counts) for a in (ink.x, ink.y, ink.t))
    new_sizes = np.add.reduceat(counts, starts) if ink.n_points else sizes
    new_starts = np.cumsum(new_sizes) - new_sizes
    position = np.cumsum(counts) - counts  # where each original point landed
    records: dict[str, list[Any]] = {}
    if dropped:
        s, a, k = dropped[0]
        records["dropped"] = [{"stroke": s, "after": a, "count": k}]
    if duplicated:
        records["duplicates"] = [
            {"stroke": s, "point": int(position[starts[s] + j] - new_starts[s] + 1)}
            for s, j in duplicated
        ]
    if "spikes" in chosen:
        s = chosen["spikes"]
        records["spikes"] = [_spike(x, y, int(new_starts[s]), int(new_sizes[s]), s, rng)]
    if "zero_times" in chosen:
        s = chosen["zero_times"]
        records["zero_times"] = [_zero(t, int(new_starts[s]), int(new_sizes[s]), s, rng)]
    ends = np.cumsum(new_sizes).astype(np.int64)
    damaged = LineInk(x, y, t, ends, stroke_times(t, ends))
    if "empty_strokes" in kinds:
        damaged, inserted = _insert_empty(damaged, rng)
        records = _shift_strokes(records, inserted)
        records["empty_strokes"] = inserted
    return damaged, records


def _choose_strokes(sizes: IntArray, kinds: list[str], rng: np.random.Generator) -> dict[str, int]:
    """A distinct stroke for each kind, among those with enough points for it."""
    taken: set[int] = set()
    chosen: dict[str, int] = {}
    for kind in kinds:
        eligible = [i for i in np.nonzero(sizes >= _MIN_POINTS[kind])[0].tolist() if i not in taken]
        if eligible:
            pick = int(eligible[int(rng.integers(len(eligible)))])
            chosen[kind] = pick
            taken.add(pick)
    return chosen


def _spike(
    x: IntArray, y: IntArray, start: int, size: int, stroke: int, rng: np.random.Generator
) -> Record:
    """Throw 1-2 inner readings of a stroke far away; the board has room below and beside."""
    count = int(rng.integers(1, 3)) if size >= 4 else 1
    i = int(rng.integers(1, size - count))
    dx = float(rng.uniform(1500.0, 3500.0)) * float(rng.choice([-1.0, 1.0]))
    dy = float(rng.uniform(1500.0, 3500.0))
    for j in range(count):
        at = start + i + j
        nx = x[at] + dx if x[at] + dx >= 0 else x[at] - dx
        x[at] = int(nx) + j * int(rng.integers(5, 40))
        y[at] = int(y[at] + dy) + j * int(rng.integers(5, 40))
    return {"stroke": stroke, "point": i, "count": count}


def _zero(t: IntArray, start: int, size: int, stroke: int, rng: np.random.Generator) -> Record:
    count = int(rng.integers(1, min(4, size) + 1))
    i = int(rng.integers(0, size - count + 1))
    t[start + i : start + i + count] = 0
    return {"stroke": stroke, "point": i, "count": count}


def _insert_empty(ink: LineInk, rng: np.random.Generator) -> tuple[LineInk, list[int]]:
    """Insert 1-2 `<Stroke>` elements without points between strokes (or first or last)."""
    n = ink.n_strokes
    k = 1 if n < 4 else int(rng.integers(1, 3))
    slots = sorted(int(v) for v in rng.choice(n + 1, size=k, replace=False))
    ends = ink.ends.tolist()
    times = ink.times.tolist()
    inserted: list[int] = []
    for shift, slot in enumerate(slots):
        at = slot + shift  # position in the growing list
        prev_end = ends[at - 1] if at > 0 else 0
        if at > 0:
            moment = max(times[at - 1]) + int(rng.integers(2, 9))
        else:
            moment = max(times[0][0] - int(rng.integers(2, 9)), 0)
        ends.insert(at, prev_end)
        times.insert(at, [moment, moment])
        inserted.append(at)
    damaged = LineInk(
        ink.x, ink.y, ink.t, np.array(ends, np.int64), np.array(times, np.int64).reshape(-1, 2)
    )
    return damaged, inserted


def _shift_strokes(records: dict[str, list[Any]], inserted: list[int]) -> dict[str, list[Any]]:
    """Stroke indices of the records after empty strokes were inserted before them."""
    out: dict[str, list[Any]] = {}
    for kind, entries in records.items():
        shifted = []
        for entry in entries:
            s = entry["stroke"]
            for at in inserted:
                if at <= s:
                    s += 1
            shifted.append({**entry, "stroke": s})
        out[kind] = shifted
    return out
