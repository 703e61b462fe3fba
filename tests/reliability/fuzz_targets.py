"""The fuzz targets: what each reader may do with any bytes at all.

A reader of raw files may return its records or raise `BadInput` (which the build turns into a
quarantine entry); any other exception, or a hang, is a bug. Each `check_*` feeds one input to
one reader and raises AssertionError (or lets the unexpected exception through) when that rule,
or a property of the result, is broken. They run under atheris (`fuzz.py`, `make fuzz`), over
the kept corpus in `corpus/<target>/` (`test_fuzz.py`), and under hypothesis's mutations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graves_data.corpora.iam_ondb import (
    IamParams,
    parse_transcription,
    parse_writer,
    read_line,
    tree_stroke_xml,
)
from graves_data.corpora.iam_ondb.fastread import COMPILED, fast_stroke_batch
from graves_data.errors import BadInput
from graves_data.pipelines.strokes import Ink, from_offsets, to_offsets

PARAMS = IamParams()
SOURCE = "lineStrokes/f00/f00-000/f00-000z-01.xml"


# a stroke file in the release's own form, read beside each input: the fast reader works on
# a batch's joined bytes, so what one file holds must never change what it reads in another
NEIGHBOUR = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\r\n<WhiteboardCaptureSession>\r\n'
    b"  <StrokeSet>\r\n"
    b'    <Stroke colour="black" start_time="1.00" end_time="1.02">\r\n'
    b'      <Point x="1071" y="2132" time="1.00"/>\r\n'
    b'      <Point x="1075" y="2130" time="1.02"/>\r\n'
    b"    </Stroke>\r\n  </StrokeSet>\r\n</WhiteboardCaptureSession>\r\n"
)


def check_stroke(data: bytes) -> None:
    """A stroke file through the whole line reader (parse, then clean): an Ink with points, or
    BadInput. The two readers agree on it (`check_readers_agree`), alone and in a batch, and
    the cleaned line survives offsets and back exactly."""
    check_readers_agree([data])
    check_readers_agree([NEIGHBOUR, data, NEIGHBOUR])
    try:
        ink, _ = read_line(data, SOURCE, PARAMS)
    except BadInput as error:
        _named(error, SOURCE)
        return
    if ink.n_points == 0:
        raise AssertionError("read_line returned a line without points")
    offsets, origin = to_offsets(ink)
    x, y, ends = from_offsets(offsets, origin)
    np.testing.assert_array_equal(x, ink.x)
    np.testing.assert_array_equal(y, ink.y)
    np.testing.assert_array_equal(ends, ink.ends[ink.ends > 0])


def check_transcription(data: bytes) -> None:
    """A transcription file: its CSR lines (non-empty, trimmed, no control character), or
    BadInput."""
    source = "ascii/f00/f00-000/f00-000z.txt"
    try:
        lines = parse_transcription(data, source)
    except BadInput as error:
        _named(error, source)
        return
    if not isinstance(lines, list) or not lines:
        raise AssertionError(f"no lines and no BadInput: {lines!r}")
    for line in lines:
        if not line or line != line.strip() or any(map(_control, line)):
            raise AssertionError(f"a line that should have been refused: {line!r}")


def _control(char: str) -> bool:
    """A C0 or C1 control character other than tab."""
    return (ord(char) < 32 and char != "\t") or 127 <= ord(char) < 160


def check_writer(data: bytes) -> None:
    """An original XML file: (writer, None) or (None, why); it never raises."""
    found = parse_writer(data, "original/f00/f00-000/strokesz.xml")
    if not isinstance(found, tuple) or len(found) != 2:
        raise AssertionError(f"not a (writer, why) pair: {found!r}")
    writer, why = found
    if (writer is None) == (why is None):
        raise AssertionError(f"exactly one of writer and reason must be given: {found!r}")
    if writer is not None and (not writer or writer != writer.strip()):
        raise AssertionError(f"an empty or untrimmed writer id: {writer!r}")


def fast_by_both(datas: list[bytes]) -> list[Ink | None]:
    """The fast reader's answer for each file, from the numpy scanner and, where it is built,
    the compiled one, which must give the same answers bit for bit (the same files kept, the
    same arrays of the same types)."""
    by_numpy = fast_stroke_batch(datas, "numpy")
    if COMPILED is None:
        return by_numpy
    by_compiled = fast_stroke_batch(datas, "compiled")
    for i, (a, b) in enumerate(zip(by_numpy, by_compiled, strict=True)):
        if (a is None) != (b is None):
            kept = "numpy" if b is None else "compiled"
            raise AssertionError(f"file {i}: only the {kept} scanner keeps it")
        if a is not None and b is not None:
            _identical(a, b)
    return by_compiled


def fast_one_by_both(data: bytes) -> Ink | None:
    return fast_by_both([data])[0]


def _identical(a: Ink, b: Ink) -> None:
    for name, left, right in (("x", a.x, b.x), ("y", a.y, b.y), ("ends", a.ends, b.ends)):
        if left.dtype != right.dtype or left.tobytes() != right.tobytes():
            raise AssertionError(f"the scanners read {name} differently: {left} {right}")
    if (a.t is None) != (b.t is None) or (
        a.t is not None and b.t is not None and a.t.tobytes() != b.t.tobytes()
    ):
        raise AssertionError(f"the scanners read the times differently: {a.t} {b.t}")


def check_readers_agree(datas: list[bytes]) -> None:
    """The fast reader (both scanners) and the tree reader agree on every file of a batch:
    where the fast one keeps a file the tree one reads the same Ink, and a file the tree one
    refuses is never kept by the fast one (it steps aside, and the build then quarantines
    it)."""
    for data, fast in zip(datas, fast_by_both(datas), strict=True):
        if fast is None:
            continue  # the tree reader decides alone
        try:
            tree = tree_stroke_xml(data, SOURCE)
        except BadInput as error:
            raise AssertionError(
                f"the fast reader kept a file the tree reader refuses ({error.code}: "
                f"{error.reason})"
            ) from None
        _same_ink(fast, tree)


def _same_ink(fast: Ink, tree: Ink) -> None:
    np.testing.assert_array_equal(fast.x, tree.x)
    np.testing.assert_array_equal(fast.y, tree.y)
    np.testing.assert_array_equal(fast.ends, tree.ends)
    if fast.n_points:
        np.testing.assert_array_equal(fast.t, tree.t)


def _named(error: BadInput, source: str) -> None:
    if error.source != source or not error.code or not error.reason:
        raise AssertionError(f"BadInput without its source, code or reason: {error!r}")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "stroke": check_stroke,
    "transcription": check_transcription,
    "writer": check_writer,
}
