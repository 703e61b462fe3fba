"""Empty splits (issue 14, item 15): a split too small to get any row, or whose every input is
quarantined, is warned about at build time, listed in the manifest with 0 rows and no files,
left out of the dataset card, and leaves no 0-row shard behind (Hugging Face `datasets` cannot
read one: "BatchSize must be greater than 0", for every split). Evaluation refuses a metric
over it."""

from __future__ import annotations

import fnmatch
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.corpora.wikipedia import build as build_wikipedia
from graves_data.errors import DatasetError
from graves_data.models.config import LoaderConfig, PredictionConfig, RunConfig, TrainConfig
from graves_data.models.evaluate import evaluate_model
from graves_data.models.tasks import make_task
from graves_data.models.train import prepare
from graves_data.stats import compute
from graves_data.synth.learnable import write_handwriting_dataset
from graves_data.verify import verify
from tests.reliability.helpers import QUIET, build_read, listed, stroke_path


def card_yaml(dataset: Path) -> dict[str, Any]:
    text = (dataset / "README.md").read_text()
    _, header, _ = text.split("---\n", 2)
    loaded = yaml.safe_load(header)
    assert isinstance(loaded, dict)
    return loaded


def card_files(dataset: Path) -> dict[str, list[str]]:
    """What `load_dataset` would read: for each split the card names, the files its glob
    matches (relative to the dataset folder)."""
    files = sorted(p.relative_to(dataset).as_posix() for p in (dataset / "data").iterdir())
    (config,) = card_yaml(dataset)["configs"]
    return {
        entry["split"]: [f for f in files if fnmatch.fnmatch(f, entry["path"])]
        for entry in config["data_files"]
    }


def assert_loadable(dataset: Path) -> None:
    """Every split the card names matches files, and every shard holds a row group with rows:
    the two conditions `datasets.load_dataset("parquet", ...)` needs."""
    named = card_files(dataset)
    assert named and all(named.values()), named
    for path in (dataset / "data").iterdir():
        meta = pq.ParquetFile(path).metadata
        assert meta.num_row_groups > 0 and meta.row_group(0).num_rows > 0, path


def one_page_dump(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    result = CliRunner().invoke(
        main, ["synth", "wikipedia", "--out", str(raw), "--pages", "1", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    return next(p for p in raw.iterdir() if p.name.endswith(".xml.bz2") and "index" not in p.name)


def test_a_one_page_dump_warns_and_writes_no_empty_shard(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dump = one_page_dump(tmp_path)
    out = tmp_path / "ds"
    with caplog.at_level(logging.WARNING):
        manifest = build_wikipedia(str(dump), str(out), execution=QUIET)
    empty = [name for name, entry in manifest["splits"].items() if not entry["rows"]]
    assert empty == ["valid", "test"]  # one page: all of it goes to train
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("valid, test" in m and "no rows" in m for m in warned), warned
    on_disk = json.loads((out / "manifest.json").read_text())
    for name in empty:
        assert on_disk["splits"][name]["rows"] == 0
        assert on_disk["splits"][name]["files"] == []
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    assert set(card_files(out)) == {"train"}
    assert_loadable(out)
    assert verify(out).ok, verify(out).problems
    # stats shows the empty splits without a rate over nothing
    report = compute(str(out))
    assert report["splits"]["valid"]["symbols"] == 0
    assert report["splits"]["valid"]["oov_rate"] is None


def test_a_split_whose_one_form_is_all_quarantined(raw_copy: Path, tmp_path: Path) -> None:
    """One form per shard: a valid form whose every line is damaged gives a unit with no rows.
    Its shard is not written (its number is skipped), the other valid shard stays."""
    form = listed(raw_copy, "testset_v")[0]
    strokes = sorted(stroke_path(raw_copy, f"{form}-01").parent.glob(f"{form}-*.xml"))
    assert strokes
    for path in strokes:
        path.write_bytes(b"<not xml")
    built = build_read(raw_copy, tmp_path / "ds")
    valid = built.manifest["splits"]["valid"]
    assert valid["rows"] > 0
    paths = [f["path"] for f in valid["files"]]
    assert len(paths) == 1 and paths[0].endswith("-of-00002.parquet"), paths
    assert all(f["rows"] > 0 for s in built.manifest["splits"].values() for f in s["files"])
    assert {q["code"] for q in built.manifest["quarantine"]} >= {"xml-syntax"}
    assert_loadable(tmp_path / "ds")
    assert verify(tmp_path / "ds").ok, verify(tmp_path / "ds").problems


def test_an_empty_split_list_is_left_out_of_the_card(raw_copy: Path, tmp_path: Path) -> None:
    """No valid forms at all: the split exists with 0 rows; the card names only train (a
    YAML split matching no file stops `load_dataset`)."""
    (raw_copy / "testset_v.txt").write_text("")
    built = build_read(raw_copy, tmp_path / "ds")
    assert built.manifest["splits"]["valid"] == {**built.manifest["splits"]["valid"], "rows": 0}
    assert built.manifest["splits"]["valid"]["files"] == []
    assert set(card_files(tmp_path / "ds")) == {"train"}
    assert_loadable(tmp_path / "ds")
    report = compute(str(tmp_path / "ds"))
    assert report["splits"]["valid"]["lines"] == 0
    assert report["splits"]["valid"]["coverage"] is None  # not 100% of nothing


def test_evaluation_refuses_an_empty_split(tmp_path: Path) -> None:
    data = write_handwriting_dataset(tmp_path / "data", {"train": 8, "valid": 8})
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["splits"]["valid"] = {"rows": 0, "files": []}
    (data / "manifest.json").write_text(json.dumps(manifest))
    config = prepare(
        RunConfig(
            task="handwriting",
            data=str(data),
            model=PredictionConfig(hidden=8, layers=1, mixtures=2),
            train=TrainConfig(batch_size=4, progress=False, tensorboard=False),
            loader=LoaderConfig(shuffle_buffer=4),
        )
    )
    task = make_task(config)
    model = task.build_model()
    with pytest.raises(DatasetError, match="no points to score"):
        evaluate_model(task, model, "valid", torch.device("cpu"))
    # the same model on a split with rows is scored
    assert evaluate_model(task, model, "train", torch.device("cpu"))["points"] > 0
