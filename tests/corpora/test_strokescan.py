"""The compiled stroke scanner (`_strokescan.c`) beside the numpy one: built by the install
where a C compiler is, chosen by default, switched off by its variable, and reading every file
of the real release exactly as the numpy scanner and the tree reader do.

The two scanners are compared on every input of the reader tests too (`fast_by_both`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.corpora.iam_ondb import fastread, tree_stroke_xml
from graves_data.errors import UsageError
from tests.conftest import compiler, release_stroke_files
from tests.reliability.fuzz_targets import fast_by_both

needs_compiler = pytest.mark.skipif(
    compiler() is None, reason="no C compiler here: the install reads with the numpy scanner"
)


@needs_compiler
def test_the_install_builds_the_compiled_scanner_and_reads_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert fastread.COMPILED is not None, "a C compiler is here, but _strokescan was not built"
    monkeypatch.delenv(fastread.SCANNER_VARIABLE, raising=False)
    assert fastread.default_scanner() == "compiled"
    monkeypatch.setenv(fastread.SCANNER_VARIABLE, "numpy")
    assert fastread.default_scanner() == "numpy"
    monkeypatch.setenv(fastread.SCANNER_VARIABLE, "fortran")
    with pytest.raises(UsageError, match="GRAVES_DATA_STROKE_SCANNER"):
        fastread.default_scanner()


@pytest.mark.parametrize(("value", "built"), [("fortran", True), ("compiled", False)])
def test_a_scanner_the_install_cannot_give_is_one_line_before_any_work(
    value: str, built: bool, iam_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown name, or the compiled scanner asked for where none was built: the build
    refuses in one line naming the variable, and writes nothing."""
    if not built:
        monkeypatch.setattr(fastread, "COMPILED", None)
    monkeypatch.setenv(fastread.SCANNER_VARIABLE, value)
    out = tmp_path / "out"
    args = ["build", "iam-ondb", "--raw", str(iam_sample), "--out", str(out), "--workers", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "GRAVES_DATA_STROKE_SCANNER" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_without_the_compiled_module_the_numpy_scanner_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An install without a compiler (the extension is optional) still reads fast."""
    monkeypatch.setattr(fastread, "COMPILED", None)
    monkeypatch.delenv(fastread.SCANNER_VARIABLE, raising=False)
    assert fastread.default_scanner() == "numpy"
    data = (
        b'<?xml version="1.0"?><WhiteboardCaptureSession><StrokeSet>'
        b'<Stroke colour="black" start_time="1" end_time="2">'
        b'<Point x="-3" y="4" time="1.25"/></Stroke></StrokeSet></WhiteboardCaptureSession>'
    )
    ink = fastread.fast_stroke_xml(data)
    assert ink is not None and ink.x.tolist() == [-3] and ink.y.tolist() == [4]
    assert ink.t is not None and ink.t.tolist() == [1.25] and ink.ends.tolist() == [1]
    with pytest.raises(UsageError, match="not built"):
        fastread.fast_stroke_batch([data], "compiled")


@needs_compiler
def test_the_compiled_scanner_refuses_buffers_of_the_wrong_shape() -> None:
    assert fastread.COMPILED is not None
    room = np.zeros(4, dtype=np.int64)
    times = np.zeros(4)
    with pytest.raises(ValueError, match="5 items a file"):
        fastread.COMPILED.scan([b"<a/>"] * 2, 1e12, room, room, times, room, np.zeros(5, np.int64))
    with pytest.raises(TypeError, match=r"datas\[0\]: bytes"):
        fastread.COMPILED.scan(["<a/>"], 1e12, room, room, times, room, np.zeros(5, np.int64))


def test_every_file_of_the_real_release_reads_the_same_by_both_scanners() -> None:
    """All 12,195 stroke files: the same files kept, the same values bit for bit, and (every
    25th file) the tree reader's Ink."""
    datas = release_stroke_files()
    kept = 0
    for start in range(0, len(datas), 500):  # units of about the build's size
        batch = datas[start : start + 500]
        inks = fast_by_both(batch)
        kept += sum(ink is not None for ink in inks)
        for data, ink in list(zip(batch, inks, strict=True))[::25]:
            assert ink is not None
            tree = tree_stroke_xml(data, "release.xml")
            for name in ("x", "y", "t", "ends"):
                np.testing.assert_array_equal(getattr(ink, name), getattr(tree, name))
    assert kept == len(datas), "every file of the release is in the fast reader's form"
