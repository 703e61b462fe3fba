"""What a user is told about a build (issue 14 items 21-23): lines left out apart from the
inputs quarantined, lines without a writer id, and what `--max-fill` does.

Each case damages a copy of the generated corpus; the expected figures are counted by the test
from the raw files it made, never taken from the code under test.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.pipelines.strokes import fill_dropped, make_ink
from tests.reliability.helpers import listed, stroke_path, transcription_path

BUILD = ("build", "iam-ondb", "--workers", "1", "--forms-per-shard", "1", "--quiet")


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def rows_written(out: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "data").glob("*.parquet"))


def test_lines_left_out_are_reported_apart_from_inputs_quarantined(
    raw_copy: Path, tmp_path: Path
) -> None:
    forms = listed(raw_copy, "testset_v")
    broken, mismatched = forms[-1], forms[0]
    # a damaged stroke file: one line left out
    stroke = stroke_path(raw_copy, f"{broken}-02")
    stroke.write_bytes(stroke.read_bytes()[:100])
    # a transcription with a line more than the form has stroke files: the whole form
    text = transcription_path(raw_copy, mismatched)
    text.write_bytes(text.read_bytes().rstrip(b"\r\n") + b"\nan extra line\n")
    form_lines = len(list(stroke_path(raw_copy, f"{mismatched}-01").parent.glob("*.xml")))
    # two transcriptions of forms without stroke files: inputs, but no line is lost
    for extra in ("zz0-000", "zz0-001"):
        folder = raw_copy / "ascii" / "zz0" / extra
        folder.mkdir(parents=True)
        shutil.copy(text, folder / f"{extra}.txt")
    out = tmp_path / "out"
    shown = run(*BUILD, "--raw", str(raw_copy), "--out", str(out))
    manifest = json.loads((out / "manifest.json").read_text())
    left = manifest["report"]["lines_left_out"]
    assert left == {"xml-syntax": 1, "transcription-mismatch": form_lines}
    stroke_files = len(list((raw_copy / "lineStrokes").rglob("*.xml")))
    assert sum(left.values()) == stroke_files - rows_written(out)
    assert f"{1 + form_lines} text lines left out ({form_lines} transcription-mismatch, " in shown
    assert "1 xml-syntax)" in shown
    assert "4 inputs quarantined (2 no-stroke-files, 1 transcription-mismatch, 1 xml-syntax)" in (
        shown
    )
    assert "text lines left out" in run("stats", str(out))


def test_stats_counts_lines_without_a_writer_per_split(raw_copy: Path, tmp_path: Path) -> None:
    form = listed(raw_copy, "testset_v")[-1]
    folder = form.rstrip("abcdefghijklmnopqrstuvwxyz")
    for original in (raw_copy / "original").glob(f"*/{folder}/strokes*.xml"):
        original.unlink()  # the form's writer is no longer known
    out = tmp_path / "out"
    run(*BUILD, "--raw", str(raw_copy), "--out", str(out))
    report = json.loads(run("stats", str(out), "--json"))
    for split, entry in report["splits"].items():
        shards = sorted((out / "data").glob(f"{split}-*.parquet"))
        nulls = sum(pq.read_table(p, columns=["writer_id"]).column(0).null_count for p in shards)
        assert entry["lines_without_writer"] == nulls, split
    assert report["splits"]["valid"]["lines_without_writer"] > 0
    assert "no writer" in run("stats", str(out))


def test_a_build_without_original_xml_warns_there_will_be_no_writer_ids(
    raw_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.rmtree(raw_copy / "original")
    with caplog.at_level(logging.WARNING):
        run(*BUILD, "--raw", str(raw_copy), "--out", str(tmp_path / "out"))
    assert any("no writer ids" in r.getMessage() for r in caplog.records)
    report = json.loads(run("stats", str(tmp_path / "out"), "--json"))
    assert all(s["lines_without_writer"] == s["lines"] for s in report["splits"].values())


@pytest.mark.parametrize("max_fill", [0, 3, 10])
def test_max_fill_caps_a_long_gap_inside_a_stroke_it_never_leaves_it(max_fill: int) -> None:
    """A 0.69 s gap at a 15 ms period (45 periods) gets exactly max_fill points: what the help
    and the README now say (the help said such a gap "is a pause")."""
    period = 0.015
    times = [k * period for k in range(6)] + [5 * period + 0.69 + k * period for k in range(1, 6)]
    ink = make_ink([(list(range(0, 110, 10)), [0] * 11, times)])
    filled, count = fill_dropped(ink, period, 2.5, max_fill)
    assert count == max_fill == filled.n_points - ink.n_points
    inserted = filled.t[6 : 6 + max_fill]
    assert np.all(np.diff(np.concatenate([[times[5]], inserted, [times[6]]])) > 0)


def test_the_max_fill_help_says_what_the_code_does() -> None:
    shown = " ".join(run("build", "iam-ondb", "--help").split())
    start = shown.index("--max-fill")
    help_text = shown[start : start + 250]
    assert "is a pause" not in help_text
    assert "exactly this many" in help_text
