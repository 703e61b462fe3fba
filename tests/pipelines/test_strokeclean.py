"""The compiled cleaning kernels (`_strokeclean.c`) beside their numpy definitions: built by the
install where a C compiler is, and giving the same bits as `_sampling_periods_numpy` and the
per-line `sampling_period` (the definition) on drawn lines, on lines whose means take every
branch of numpy's pairwise sum, and on every line of the real release.

`test_batch_cleaning_is_line_by_line_cleaning` (tests/reliability) runs both ways too."""

from __future__ import annotations

import numpy as np
import pytest

from graves_data.corpora.iam_ondb.readers import read_stroke_files
from graves_data.errors import BadInput
from graves_data.pipelines import strokebatch
from graves_data.pipelines.strokebatch import InkBatch, clean_batch
from graves_data.pipelines.strokes import CleanParams, FloatArray, Ink, sampling_period
from tests.conftest import compiler, release_stroke_files

needs_kernels = pytest.mark.skipif(
    strokebatch.COMPILED is None and compiler() is None,
    reason="no C compiler here: the install cleans with numpy alone",
)


def bits(values: FloatArray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.int64)


def definition(inks: list[Ink]) -> FloatArray:
    periods = [sampling_period(ink) for ink in inks]
    return np.array([np.nan if p is None else p for p in periods], dtype=np.float64)


def drawn_lines(seed: int, lengths: list[int]) -> list[Ink]:
    """Lines with quantised times (steps of 0.01 and 0.02 s, pauses, still pens, lost readings,
    times going backwards), strokes of drawn sizes (some empty), some lines untimed."""
    rng = np.random.default_rng(seed)
    inks = []
    for n in lengths:
        dt = rng.choice(
            [0.01, 0.02, 0.0075, 0.03, 0.5, 0.0, -0.2],
            size=max(n - 1, 0),
            p=[0.4, 0.3, 0.1, 0.08, 0.05, 0.05, 0.02],
        ) * rng.uniform(0.5, 1.5)
        t = rng.uniform(1, 100) + np.concatenate([[0.0], np.cumsum(dt)])[:n]
        cuts = np.sort(rng.integers(0, n + 1, size=int(rng.integers(0, 5))))
        ends = np.concatenate([cuts, [n]]).astype(np.int64)
        xy = rng.integers(0, 1000, size=(2, n))
        inks.append(Ink(xy[0], xy[1], t if rng.random() < 0.9 else None, ends))
    return inks


@needs_kernels
def test_the_install_builds_the_cleaning_kernels() -> None:
    assert strokebatch.COMPILED is not None, "a C compiler is here, but _strokeclean was not built"


@needs_kernels
@pytest.mark.parametrize("seed", range(4))
def test_sampling_periods_are_the_definitions_bits(seed: int) -> None:
    """Lengths around every branch of the pairwise sum (under 8, up to 128 by blocks of 8,
    halved above) and numpy's buffer size (8192): the means are the same floats."""
    lengths = [*range(0, 140), 255, 256, 257, 1000, 4097, 8191, 8192, 8193, 8194, 20_000, 70_001]
    inks = drawn_lines(seed, lengths)
    batch = InkBatch.of(inks)
    compiled = strokebatch._sampling_periods(batch)
    np.testing.assert_array_equal(bits(compiled), bits(strokebatch._sampling_periods_numpy(batch)))
    np.testing.assert_array_equal(bits(compiled), bits(definition(inks)))
    assert np.isfinite(compiled).sum() > len(lengths) // 2, "most lines have a period"


@needs_kernels
def test_a_median_of_equal_or_extreme_steps_is_the_definitions() -> None:
    """Many equal steps (the quickselect's equal-to-the-pivot exit), huge and tiny ones, and
    sorted or reversed runs (what makes a careless quickselect quadratic)."""
    steps = [
        np.full(999, 0.01),
        np.array([1e-300, 1e300, 0.01, 0.01, 0.02, np.inf]),
        np.linspace(0.001, 1, 5000),
        np.linspace(1, 0.001, 5000),
        np.tile([0.01, 0.02], 3001),
    ]
    inks = [
        Ink(
            np.zeros(len(s) + 1, np.int64),
            np.zeros(len(s) + 1, np.int64),
            np.concatenate([[1.0], 1.0 + np.cumsum(s)]),
            np.array([len(s) + 1]),
        )
        for s in steps
    ]
    batch = InkBatch.of(inks)
    np.testing.assert_array_equal(
        bits(strokebatch._sampling_periods(batch)), bits(definition(inks))
    )


@needs_kernels
def test_bounds_outside_the_buffers_are_refused() -> None:
    assert strokebatch.COMPILED is not None
    t, out = np.zeros(4), np.zeros(1)
    points, strokes = np.array([0, 4]), np.array([0, 1])
    with pytest.raises(ValueError, match="outside the buffers"):
        strokebatch.COMPILED.sampling_periods(t, points, strokes, np.array([9]), b"\x01", out)
    with pytest.raises(ValueError, match="outside the buffers"):
        strokebatch.COMPILED.sampling_periods(
            t, np.array([0, 5]), strokes, np.array([4]), b"\x01", out
        )
    with pytest.raises(ValueError, match="one a line"):
        strokebatch.COMPILED.sampling_periods(t, points, strokes, np.array([4]), b"", out)


def test_without_the_kernels_the_numpy_definitions_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    inks = drawn_lines(7, [0, 1, 2, 50, 300, 700])
    expected = definition(inks)
    monkeypatch.setattr(strokebatch, "COMPILED", None)
    np.testing.assert_array_equal(
        bits(strokebatch._sampling_periods(InkBatch.of(inks))), bits(expected)
    )


def test_every_line_of_the_real_release_cleans_the_same_both_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """All 12,195 stroke files cleaned with the kernels and with numpy alone: the same points,
    times and reports, bit for bit; and (every 50th line) the periods of the definition."""
    if strokebatch.COMPILED is None:
        pytest.skip("the cleaning kernels are not built here (no C compiler)")
    datas = release_stroke_files()
    inks = [
        ink
        for ink in read_stroke_files(datas, ["release.xml"] * len(datas))
        if not isinstance(ink, BadInput)
    ]
    assert len(inks) == len(datas)
    params = CleanParams()
    for start in range(0, len(inks), 500):  # units of about the build's size
        unit = inks[start : start + 500]
        compiled = clean_batch(unit, params)
        sample = unit[::50]
        np.testing.assert_array_equal(
            bits(strokebatch._sampling_periods(InkBatch.of(sample))), bits(definition(sample))
        )
        with monkeypatch.context() as patch:
            patch.setattr(strokebatch, "COMPILED", None)
            numpy_only = clean_batch(unit, params)
        for (ink, report), (other, other_report) in zip(compiled, numpy_only, strict=True):
            assert report == other_report
            for name in ("x", "y", "ends"):
                np.testing.assert_array_equal(getattr(ink, name), getattr(other, name))
            assert ink.t is not None and other.t is not None
            np.testing.assert_array_equal(bits(ink.t), bits(other.t))
