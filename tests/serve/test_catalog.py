"""The catalog over an ink dataset: the raw points of a line come from the InkML file the
build read (found through the runner's record of the raw folder and the manifest's sources)."""

from __future__ import annotations

from pathlib import Path

from graves_data.corpora.ink import InkParams, build, write_inkml
from graves_data.pipelines.runner import Execution
from graves_data.serve.catalog import open_catalog


def test_raw_points_of_an_ink_line_are_the_files(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = {
        "one": [[[10, 20, 1.0], [13, 24, 1.01], [13, 24, 1.02]], [[40, 5, 1.3], [42, 9, 1.31]]],
        "two": [[[0, 0, 5.0], [700, 0, 5.01], [701, 1, 5.02]]],  # a spike (step of 700)
    }
    for line_id, strokes in lines.items():
        (raw / f"{line_id}.inkml").write_bytes(write_inkml(strokes, "ab"))
    params = InkParams(valid_every=0, spike_threshold=500.0)
    build(str(raw), str(tmp_path / "ds"), params, execution=Execution(workers=1, progress=False))
    catalog = open_catalog([str(tmp_path / "ds")], [], None)
    entry = catalog.dataset("ds")
    for line_id, strokes in lines.items():
        line = entry.line_json(line_id)
        assert line["raw_reason"] == ""
        assert line["raw"] == [[[float(x), float(y)] for x, y, _ in s] for s in strokes]
    # the cleaned line of "two" lost its spike; the raw one still shows it
    cleaned = entry.line_json("two")
    assert sum(len(s) for s in cleaned["strokes"]) < 3
    assert cleaned["counts"]["n_dropped"] > 0
