"""tools/results.py: learning curves and a JSON summary (docs/results.md) from run folders."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from graves_data.models.config import LoaderConfig, PredictionConfig, RunConfig, TrainConfig
from graves_data.models.train import prepare, train

ROOT = Path(__file__).resolve().parents[2]


def _results() -> ModuleType:
    spec = importlib.util.spec_from_file_location("results", ROOT / "tools" / "results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _train(data: Path, run: Path, steps: int, noise: str) -> None:
    config = RunConfig(
        task="handwriting",
        data=str(data),
        model=PredictionConfig(hidden=8, layers=1, mixtures=2),
        train=TrainConfig(
            steps=steps,
            batch_size=8,
            log_every=2,
            eval_batches=1,
            progress=False,
            tensorboard=False,
            weight_noise=noise,
        ),
        loader=LoaderConfig(shuffle_buffer=16, max_points=40),
    )
    train(prepare(config), run)


def test_results_summarise_each_named_run(handwriting_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _train(handwriting_data, runs / "plain", 4, "none")
    _train(handwriting_data, runs / "noisy", 6, "adaptive")
    out = tmp_path / "out"
    _results().main(
        ["--runs", str(runs), "--names", "plain,noisy", "--png", str(out / "c.png"),
         "--json", str(out / "r.json")]
    )  # fmt: skip
    assert (out / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tables = {t["run"]: t for t in json.loads((out / "r.json").read_text())}
    assert list(tables) == ["plain", "noisy"]
    for name, steps in (("plain", 4), ("noisy", 6)):
        with (runs / name / "metrics.csv").open() as handle:
            rows = [r for r in csv.DictReader(handle) if r["split"] == "train"]
        points = sum(float(r["value"]) for r in rows if r["name"] == "points")
        assert tables[name]["step"] == tables[name]["summary"]["step"] == steps
        assert tables[name]["points_seen"] == points > 0
        assert tables[name]["train_seconds"] > 0


def test_a_missing_run_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    results = _results()
    png = str(tmp_path / "c.png")
    with pytest.raises(SystemExit, match=r"no metrics.csv in .*gone"):
        results.main(["--runs", str(tmp_path / "runs"), "--names", "gone", "--png", png])
    with pytest.raises(SystemExit, match="no run folder"):
        results.main(["--runs", str(tmp_path / "runs"), "--png", png])
    assert not (tmp_path / "c.png").exists()
