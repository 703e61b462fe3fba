"""The cleaning steps, each on hand-made strokes whose right answer is worked out here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from graves_data.pipelines.strokes import (
    CleanParams,
    Ink,
    clean,
    drop_duplicates,
    drop_empty_strokes,
    fill_dropped,
    from_offsets,
    make_ink,
    remove_spikes,
    repair_time,
    sampling_period,
    time_steps,
    to_offsets,
)


def regular(
    x0: int, n: int, t0: float, step: int = 10, period: float = 0.01
) -> tuple[list[int], list[int], list[float]]:
    return (
        [x0 + step * i for i in range(n)],
        [100] * n,
        [round(t0 + period * i, 2) for i in range(n)],
    )


def test_repair_time_replaces_zero_timestamps_by_interpolation() -> None:
    ink = make_ink([([0, 1, 2, 3, 4], [0] * 5, [10.0, 10.02, 0.0, 10.06, 10.08])])
    fixed, count = repair_time(ink)
    assert count == 1
    assert fixed.t is not None
    assert fixed.t[2] == pytest.approx(10.04)
    np.testing.assert_array_equal(fixed.x, ink.x)  # points are kept


def test_repair_time_fixes_a_backwards_jump_and_keeps_the_majority() -> None:
    times = [5.0, 5.01, 5.02, 1.0, 5.04, 5.05]
    fixed, count = repair_time(make_ink([(list(range(6)), [0] * 6, times)]))
    assert count == 1
    assert fixed.t is not None and fixed.t[3] == pytest.approx(5.03)
    assert np.all(np.diff(fixed.t) >= 0)


def test_repair_time_drops_time_when_too_few_valid() -> None:
    fixed, count = repair_time(make_ink([([0, 1, 2], [0, 0, 0], [0.0, 0.0, 3.0])]))
    assert fixed.t is None and count == 3


def test_sampling_period_averages_quantised_steps() -> None:
    # a 15 ms pen written in centiseconds: steps alternate 0.01 and 0.02
    t = np.round(np.arange(21) * 0.015 + 100.0, 2)
    ink = make_ink([(list(range(21)), [0] * 21, list(t))])
    assert sampling_period(ink) == pytest.approx(0.015, abs=0.001)


def test_fill_dropped_inserts_evenly_spaced_integer_points() -> None:
    # period 0.01; one gap of 0.04 s inside the stroke = 3 readings lost
    ink = make_ink([([0, 10, 20, 60, 70], [0, 0, 0, 8, 8], [1.00, 1.01, 1.02, 1.06, 1.07])])
    filled, count = fill_dropped(ink, 0.01, gap_factor=2.5, max_fill=10)
    assert count == 3
    np.testing.assert_array_equal(filled.x, [0, 10, 20, 30, 40, 50, 60, 70])
    np.testing.assert_array_equal(filled.y, [0, 0, 0, 2, 4, 6, 8, 8])
    assert filled.t is not None
    np.testing.assert_allclose(filled.t, [1.00, 1.01, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07])
    np.testing.assert_array_equal(filled.ends, [8])


def test_fill_dropped_caps_a_pause_and_ignores_pen_up_gaps() -> None:
    a = regular(0, 3, 1.0)
    b = regular(500, 3, 9.0)  # next stroke 8 s later: a pen-up, not lost readings
    ink = make_ink([a, b])
    filled, count = fill_dropped(ink, 0.01, 2.5, max_fill=10)
    assert count == 0 and filled.n_points == 6
    long_gap = make_ink([([0, 10, 1000], [0, 0, 0], [1.0, 1.01, 2.0])])
    _, count = fill_dropped(long_gap, 0.01, 2.5, max_fill=4)
    assert count == 4


def test_remove_spikes_drops_a_lone_outlier() -> None:
    x = [0, 10, 20, 2000, 30, 40]
    ink = make_ink([(x, [0] * 6, None)])
    cleaned, dropped, splits = remove_spikes(ink, threshold=600, max_width=2)
    assert (dropped, splits) == (1, 0)
    np.testing.assert_array_equal(cleaned.x, [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(cleaned.ends, [5])


def test_remove_spikes_splits_a_stroke_at_a_jump_between_long_runs() -> None:
    x = [0, 10, 20, 30, 1000, 1010, 1020]
    cleaned, dropped, splits = remove_spikes(make_ink([(x, [0] * 7, None)]), 600, 2)
    assert (dropped, splits) == (0, 1)
    np.testing.assert_array_equal(cleaned.ends, [4, 7])


def test_remove_spikes_drops_a_stray_reading_at_a_stroke_end() -> None:
    x = [0, 10, 20, 30, 3000]
    cleaned, dropped, splits = remove_spikes(make_ink([(x, [0] * 5, None)]), 600, 2)
    assert (dropped, splits) == (1, 0)
    np.testing.assert_array_equal(cleaned.x, [0, 10, 20, 30])


def test_remove_spikes_drops_a_short_island_between_far_apart_runs() -> None:
    x = [0, 10, 20, 900, 1800, 1810, 1820]
    cleaned, dropped, splits = remove_spikes(make_ink([(x, [0] * 7, None)]), 600, 2)
    assert (dropped, splits) == (1, 1)
    np.testing.assert_array_equal(cleaned.x, [0, 10, 20, 1800, 1810, 1820])
    np.testing.assert_array_equal(cleaned.ends, [3, 6])


def test_remove_spikes_leaves_pen_up_moves_alone() -> None:
    ink = make_ink([([0, 10, 20], [0, 0, 0], None), ([5000, 5010], [0, 0], None)])
    cleaned, dropped, splits = remove_spikes(ink, 600, 2)
    assert (dropped, splits) == (0, 0) and cleaned is ink


def test_duplicates_and_empty_strokes() -> None:
    ink = make_ink([([1, 1, 2], [1, 1, 2], [1.0, 1.0, 1.01]), ([], [], []), ([5], [5], [2.0])])
    no_dup, dups = drop_duplicates(ink)
    assert dups == 1 and no_dup.n_points == 3
    no_empty, empties = drop_empty_strokes(no_dup)
    assert empties == 1
    np.testing.assert_array_equal(no_empty.ends, [2, 3])


def test_offsets_hold_pen_lifts_and_invert_exactly() -> None:
    ink = make_ink([([100, 103, 107], [50, 49, 47], None), ([200], [60], None)])
    offsets, origin = to_offsets(ink)
    np.testing.assert_array_equal(origin, [100, 50])
    np.testing.assert_array_equal(offsets, [[0, 0, 0], [3, -1, 0], [4, -2, 1], [93, 13, 1]])
    x, y, ends = from_offsets(offsets, origin)
    np.testing.assert_array_equal(x, ink.x)
    np.testing.assert_array_equal(y, ink.y)
    np.testing.assert_array_equal(ends, ink.ends)


def test_time_steps_are_seconds_since_previous_point() -> None:
    dt = time_steps(make_ink([([0, 1, 2], [0, 0, 0], [769.05, 769.07, 769.08])]))
    assert dt is not None
    np.testing.assert_allclose(dt, [0.0, 0.02, 0.01], atol=1e-6)


def test_clean_reports_every_change() -> None:
    a = (
        [0, 10, 20, 30, 70, 80, 4000, 90],
        [0] * 8,
        [1.0, 1.01, 1.02, 1.03, 1.07, 1.08, 1.09, 1.10],
    )
    b = ([300, 310, 320], [0, 0, 0], [2.0, 0.0, 2.02])
    ink, report = clean(make_ink([a, ([], [], []), b]), CleanParams())
    assert report.time_repaired == 1
    assert report.interpolated == 3  # 1.03 -> 1.07 at period 0.01
    assert report.dropped == 1  # the spike at 4000
    assert report.empty_strokes == 1
    assert ink.n_strokes == 2


# ---------------------------------------------------------------------------------------------
# properties


@st.composite
def inks(draw: st.DrawFn) -> Ink:
    """Realistic lines: strokes of a pen sampled at a fixed period, with some readings lost."""
    n_strokes = draw(st.integers(1, 5))
    period = draw(st.sampled_from([0.01, 0.015, 0.02, 0.03]))
    strokes = []
    t = 100.0
    for _ in range(n_strokes):
        n = draw(st.integers(1, 25))
        steps = draw(
            st.lists(st.tuples(st.integers(-40, 40), st.integers(-40, 40)), min_size=n, max_size=n)
        )
        keep = draw(st.lists(st.booleans().map(lambda b: b or True), min_size=n, max_size=n))
        xs, ys, ts = [], [], []
        x, y = draw(st.integers(0, 5000)), draw(st.integers(0, 2000))
        for i, (dx, dy) in enumerate(steps):
            x, y, t = x + dx, y + dy, t + period
            if keep[i] and draw(st.integers(0, 9)) > 0:
                xs.append(x)
                ys.append(y)
                ts.append(round(t, 2))
        if xs:
            strokes.append((xs, ys, ts))
        t += 0.5
    return make_ink(strokes or [([0], [0], [100.0])])


@settings(max_examples=200, deadline=None)
@given(inks())
def test_offsets_round_trip_exactly(ink: Ink) -> None:
    offsets, origin = to_offsets(ink)
    x, y, ends = from_offsets(offsets.astype(np.float32), origin)
    np.testing.assert_array_equal(x, ink.x)
    np.testing.assert_array_equal(y, ink.y)
    np.testing.assert_array_equal(ends, ink.ends[np.diff(np.concatenate([[0], ink.ends])) > 0])


@settings(max_examples=200, deadline=None)
@given(inks())
def test_cleaning_is_idempotent_where_its_period_estimate_holds(ink: Ink) -> None:
    """Filled steps are at most 1.25 periods and the others were at most `gap_factor` periods,
    so a second pass fills nothing unless its estimate of the period fell below the first's
    (the case `test_a_second_clean_fills_again_where_the_period_estimate_fell` pins down)."""
    first = sampling_period(repair_time(ink)[0])
    once, _ = clean(ink, CleanParams())
    second = sampling_period(once)
    assume(first is None or second is None or second >= first - 1e-12)
    twice, report = clean(once, CleanParams())
    np.testing.assert_array_equal(twice.x, once.x)
    np.testing.assert_array_equal(twice.y, once.y)
    np.testing.assert_array_equal(twice.ends, once.ends)
    assert (
        report.interpolated == report.dropped == report.time_repaired == report.empty_strokes == 0
    )


def test_a_second_clean_fills_again_where_the_period_estimate_fell() -> None:
    """Cleaning is not idempotent in general: the period is the mean of the steps up to twice
    the median, and filling a gap adds such steps. Here the first pass estimates 0.0233 s
    (0.01, 0.01, 0.05), fills the 0.07 s step with 2 points; its output's estimate is 0.018 s,
    below which the 0.05 s step is a gap (2.5 x 0.018 = 0.045). Changing the rule would change
    every built dataset's bytes, so it stays, stated here."""
    ink = make_ink([([0] * 5, [0] * 5, [100.01, 100.02, 100.03, 100.1, 100.15])])
    once, first = clean(ink, CleanParams())
    twice, second = clean(once, CleanParams())
    assert (first.interpolated, once.n_points) == (2, 7)
    period_once = sampling_period(once)
    period_ink = sampling_period(ink)
    assert period_ink is not None and period_once is not None
    assert period_once < period_ink
    assert second.interpolated == 2 and twice.n_points == 9
