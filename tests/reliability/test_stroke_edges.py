"""Stroke-file edges fixed with the vectorised reader (issue 14 items 6 and 8), held by both
readers: a time too large to be a time, and points outside the expected structure."""

from __future__ import annotations

import numpy as np
import pytest

from graves_data.corpora.iam_ondb import IamParams, read_line, tree_stroke_xml
from graves_data.errors import BadInput
from graves_data.pipelines.strokes import time_steps
from tests.reliability.fuzz_targets import fast_one_by_both

HEAD = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>\n<StrokeSet>\n'
TAIL = b"</StrokeSet>\n</WhiteboardCaptureSession>\n"


def stroke(*times: bytes) -> bytes:
    points = b"".join(
        b'<Point x="%d" y="10" time="%s"/>\n' % (100 + 10 * i, t) for i, t in enumerate(times)
    )
    return b'<Stroke colour="black" start_time="1.00" end_time="1.10">\n' + points + b"</Stroke>\n"


TICKS = [b"1.%02d" % k for k in range(10)]


@pytest.mark.parametrize("huge", [b"1" + b"0" * 300, b"1e300", b"99999999999999.99"])
def test_a_time_too_large_is_repaired_never_written_as_inf(huge: bytes) -> None:
    """time="1e300" passed as a gap, was filled with 10 points, and put inf in dt."""
    data = HEAD + stroke(*TICKS[:5], huge, *TICKS[6:]) + TAIL
    ink, report = read_line(data, "x.xml", IamParams())
    assert report.time_repaired == 1 and report.interpolated == 0
    assert ink.n_points == 10
    steps = time_steps(ink)
    assert steps is not None and np.all(np.isfinite(steps))
    for reader in (fast_one_by_both(data), tree_stroke_xml(data, "x.xml")):
        if reader is not None:
            assert reader.t is not None and np.isnan(reader.t[5])


@pytest.mark.parametrize(
    "data, code",
    [
        (HEAD + b'<Point x="1" y="2" time="1.00"/>\n' + stroke(*TICKS) + TAIL, "stray-point"),
        (
            HEAD
            + stroke(*TICKS).replace(b"</Stroke>", b'<Pen><Point x="1" y="2"/></Pen></Stroke>')
            + TAIL,
            "stray-point",
        ),
        (
            HEAD + stroke(*TICKS) + b"</StrokeSet><StrokeSet>" + stroke(*TICKS) + TAIL,
            "strokeset-count",
        ),
    ],
    ids=["point-in-strokeset", "point-in-unknown-element", "second-strokeset"],
)
def test_points_outside_the_structure_are_refused_never_dropped(data: bytes, code: str) -> None:
    assert fast_one_by_both(data) is None
    with pytest.raises(BadInput) as refused:
        tree_stroke_xml(data, "x.xml")
    assert refused.value.code == code


@pytest.mark.parametrize("value", [b"-", b"-.5", b"5.", b"."])
@pytest.mark.parametrize("attribute", [b"x", b"time"])
def test_a_sign_or_dot_without_digits_is_no_number_on_either_path(
    value: bytes, attribute: bytes
) -> None:
    """x="-" read as 0 on the fast path (its sign byte set to "0", no digit left to check),
    while the tree reader refused it: found by the readers' agreement property test."""
    points = [b'<Point x="%d" y="10" time="%s"/>\n' % (100 + i, t) for i, t in enumerate(TICKS)]
    old = b'x="103"' if attribute == b"x" else b'time="1.03"'
    points[3] = points[3].replace(old, attribute + b'="' + value + b'"')
    body = b'<Stroke colour="black" start_time="1.00" end_time="1.10">\n' + b"".join(points)
    data = HEAD + body + b"</Stroke>\n" + TAIL
    fast = fast_one_by_both(data)
    if attribute == b"x":
        assert fast is None  # left to the tree reader, which refuses it
        with pytest.raises(BadInput) as refused:
            tree_stroke_xml(data, "x.xml")
        assert refused.value.code == "non-numeric"
    else:  # an unreadable time is re-estimated by both, never read as a number
        tree = tree_stroke_xml(data, "x.xml")
        assert tree.t is not None and np.isnan(tree.t[3])
        assert fast is None or (fast.t is not None and np.isnan(fast.t[3]))
