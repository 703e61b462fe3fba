"""The rows of a handwriting shard: `add_many` (all lines' offsets and time steps at once) gives
the table and totals `add` (line by line) gives; the longest non-decreasing run of timestamps is
one of the longest."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graves_data.pipelines.handwriting import HandwritingRows
from graves_data.pipelines.strokes import CleanReport, Ink, _longest_nondecreasing, make_ink


@st.composite
def lines(draw: st.DrawFn) -> Ink:
    strokes = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 12))
        xs = draw(st.lists(st.integers(-3000, 3000), min_size=n, max_size=n))
        ys = draw(st.lists(st.integers(-3000, 3000), min_size=n, max_size=n))
        ts = draw(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=n, max_size=n))
        strokes.append((xs, ys, ts))
    ink = make_ink(strokes)
    if ink.n_points == 0:
        ink = make_ink([([5], [7], [1.5])])
    return ink if draw(st.booleans()) else Ink(ink.x, ink.y, None, ink.ends)


def rows_of(inks: list[Ink], keep_time: bool, batched: bool) -> HandwritingRows:
    rows = HandwritingRows(keep_time=keep_time)
    reports = [CleanReport(i % 2, i % 3, i % 5, i % 2, i % 7) for i in range(len(inks))]
    fields = [
        (f"l{i}", f"f{i // 2}", None if i % 3 else f"w{i}", "ab"[: i % 3], np.arange(i % 3))
        for i in range(len(inks))
    ]
    if batched:
        rows.add_many(fields, list(zip(inks, reports, strict=True)))
    else:
        for (line, form, writer, text, ids), ink, report in zip(fields, inks, reports, strict=True):
            rows.add(line, form, writer, text, ids.astype(np.uint8), ink, report)
    return rows


@settings(max_examples=150, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=6), st.booleans())
def test_add_many_gives_the_rows_add_gives(inks: list[Ink], keep_time: bool) -> None:
    one_by_one = rows_of(inks, keep_time, batched=False)
    together = rows_of(inks, keep_time, batched=True)
    assert together.table().equals(one_by_one.table())
    assert together.totals() == one_by_one.totals()


def longest_by_brute_force(values: list[float]) -> int:
    """The length of a longest non-decreasing subsequence of the positive values."""
    best = 0
    for r in range(len(values), 0, -1):
        for chosen in itertools.combinations([v for v in values if v > 0], r):
            if all(a <= b for a, b in itertools.pairwise(chosen)):
                return r
    return best


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, 7.0]), max_size=9))
def test_longest_nondecreasing_is_a_longest_run(values: list[float]) -> None:
    mask = _longest_nondecreasing(np.asarray(values, dtype=np.float64))
    chosen = np.asarray(values)[mask]
    assert np.all(np.diff(chosen) >= 0) and np.all(chosen > 0)
    assert mask.sum() == longest_by_brute_force(values)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.floats(-1e3, 1e3, width=32), max_size=4))))
def test_a_nullable_list_column_is_the_masked_one(parts: list[list[float] | None]) -> None:
    """The `dt` column is built from its validity bitmap as a buffer: the same array as
    from_arrays with a mask (which would import pyarrow.compute in every worker)."""
    import pyarrow as pa

    from graves_data.pipelines.handwriting import list_array, nullable_list_array

    arrays = [None if p is None else np.asarray(p, dtype=np.float32) for p in parts]
    made = nullable_list_array(arrays, pa.float32())
    made.validate(full=True)
    assert made.to_pylist() == [None if p is None else list(p) for p in arrays]
    if any(p is not None for p in arrays):
        filled = list_array([np.zeros(0) if p is None else p for p in arrays], pa.float32())
        mask = pa.array([p is None for p in arrays], pa.bool_())
        assert made.equals(pa.ListArray.from_arrays(filled.offsets, filled.values, mask=mask))
