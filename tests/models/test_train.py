"""Training: a model overfits one batch, a short run lowers validation NLL by a stated margin,
a resumed run reproduces an uninterrupted one exactly, and the run folder holds what it should."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from graves_data.errors import UsageError
from graves_data.models.config import (
    LoaderConfig,
    PredictionConfig,
    RunConfig,
    SynthesisConfig,
    TextConfig,
    TrainConfig,
)
from graves_data.models.data import make_loader
from graves_data.models.evaluate import evaluate_model, evaluate_run
from graves_data.models.metrics import read_metrics
from graves_data.models.train import Trainer, prepare, train

SMALL = {
    "handwriting": PredictionConfig(hidden=32, layers=2, mixtures=5),
    "synthesis": SynthesisConfig(hidden=32, layers=2, mixtures=5, window=3),
    "text": TextConfig(hidden=48, layers=2),
}


def _config(task: str, data: Path, **train: object) -> RunConfig:
    options = {
        "batch_size": 16,
        "lr": 1e-3,
        "progress": False,
        "tensorboard": False,
        "log_every": 5,
        **train,
    }
    return prepare(
        RunConfig(
            task=task,  # type: ignore[arg-type]
            data=str(data),
            model=SMALL[task],
            train=TrainConfig(**options),  # type: ignore[arg-type]
            loader=LoaderConfig(shuffle_buffer=32),
        )
    )


def _data(task: str, handwriting_data: Path, text_data: Path) -> Path:
    return text_data if task == "text" else handwriting_data


@pytest.mark.slow
@pytest.mark.parametrize("task", ["handwriting", "synthesis", "text"])
def test_overfits_one_batch(
    task: str, handwriting_data: Path, text_data: Path, tmp_path: Path
) -> None:
    config = _config(task, _data(task, handwriting_data, text_data), optimizer="adam", lr=1e-2)
    trainer = Trainer(config, tmp_path)
    batch = next(iter(make_loader(trainer.task.stream(trainer.train_split, train=True), 0)))
    batch = batch._replace(reset=torch.tensor(True)) if task == "text" else batch
    losses = []
    for _ in range(150):
        trainer.carry = None
        sums = trainer.train_step(batch)
        losses.append(float(sums["nats"]) / float(sums[trainer.task.unit]))
    # nats per point (per character for text) on the batch it learns: far below where it began
    assert losses[-1] < 0.25 * losses[0] if task == "text" else losses[-1] < losses[0] - 2.5


@pytest.mark.slow
@pytest.mark.parametrize("task", ["handwriting", "synthesis"])
def test_short_run_on_the_generated_corpus_lowers_validation_nll(
    task: str, iam_data: Path, tmp_path: Path
) -> None:
    """On a generated IAM-OnDB corpus built by the real pipeline, 30 steps of Graves' RMSProp
    (lr 1e-3, batches of 8 whole lines) lower the validation NLL by at least 1.5 nats per
    point (from about 3.5) and to under half its nats per sequence."""
    config = _config(task, iam_data, steps=30, batch_size=8)
    fresh = Trainer(config, tmp_path / "fresh")
    before = evaluate_model(fresh.task, fresh.model, fresh.valid_split, fresh.device)
    summary = train(config, tmp_path / "run")
    after = summary["valid"]
    assert after["nll_per_point"] < before["nll_per_point"] - 1.5
    assert after["nll_per_sequence"] < 0.5 * before["nll_per_sequence"]
    assert after["sequences"] == before["sequences"] > 20


def test_text_short_run_lowers_bits_per_char(text_data: Path, tmp_path: Path) -> None:
    """60 steps bring the grammar text from log2(vocabulary) bits below 3.2 bits per char."""
    config = _config("text", text_data, steps=60, batch_size=8, lr=3e-3)
    summary = train(config, tmp_path / "run")
    assert summary["valid"]["bits_per_char"] < 3.2


@pytest.mark.parametrize("task", ["handwriting", "synthesis", "text"])
def test_resumed_run_reproduces_the_uninterrupted_one(
    task: str, handwriting_data: Path, text_data: Path, tmp_path: Path
) -> None:
    data = _data(task, handwriting_data, text_data)
    # text: 25 steps an epoch at 16 streams, so the run crosses an epoch (streams reset)
    steps, size = (14, 4) if task != "text" else (30, 16)
    whole = _config(task, data, steps=steps, batch_size=size, checkpoint_every=100)
    # the defaults under test: the fused LSTM with peepholes and the paper's clipping
    assert whole.train.lstm_impl == "fused" and whole.train.clip == "paper"
    assert whole.model.peepholes
    train(whole, tmp_path / "whole")
    half = dataclasses.replace(whole, train=dataclasses.replace(whole.train, steps=10))
    train(half, tmp_path / "resumed")
    train(whole, tmp_path / "resumed")
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == steps
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for key, state in a["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, b["optimizer"]["state"][key][name])
    if task == "text":
        for (h1, c1), (h2, c2) in zip(a["ranks"][0]["carry"], b["ranks"][0]["carry"], strict=True):
            assert torch.equal(h1, h2) and torch.equal(c1, c2)

    def losses(run: Path) -> list[dict[str, object]]:
        rows = read_metrics(run)
        final = [r for r in rows if r["split"] == "valid" and r["step"] == steps]
        return [
            r for r in rows if r["split"] == "train" and not r["name"].endswith("_per_s")
        ] + final

    assert losses(tmp_path / "whole") == losses(tmp_path / "resumed")


def test_run_folder_contents(handwriting_data: Path, tmp_path: Path) -> None:
    config = _config("synthesis", handwriting_data, steps=6, tensorboard=True, eval_every=3)
    summary = train(config, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "config.json",
        "vocab.json",
        "checkpoint.pt",
        "metrics.csv",
        "summary.json",
        "tb",
    }
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    saved = RunConfig.load(tmp_path)
    assert saved == config and isinstance(saved.model, SynthesisConfig)
    assert saved.model.vocab_size == len(
        json.loads((tmp_path / "vocab.json").read_text())["symbols"]
    )
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert set(state) >= {"step", "model", "optimizer", "data", "ranks", "config"}
    assert state["data"]["batches"] == 6 and set(state["ranks"][0]) == {"rng", "carry"}
    metrics = read_metrics(tmp_path)
    assert {r["step"] for r in metrics if r["split"] == "valid"} == {3, 6}
    names = {r["name"] for r in metrics if r["split"] == "train"}
    assert names >= {"loss", "nll_per_sequence", "sse_per_point", "points_per_s", "lr"}
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == summary["step"] == 6


def test_epochs_set_the_number_of_steps(handwriting_data: Path, tmp_path: Path) -> None:
    config = _config("handwriting", handwriting_data, epochs=0.5, batch_size=8)
    assert train(config, tmp_path)["step"] == 6  # 96 lines / 8 per batch / 2


def test_resuming_with_other_settings_is_refused(handwriting_data: Path, tmp_path: Path) -> None:
    config = _config("handwriting", handwriting_data, steps=2)
    train(config, tmp_path)
    other = dataclasses.replace(config, model=PredictionConfig(hidden=16, layers=2, mixtures=5))
    with pytest.raises(UsageError, match=r"model\.hidden: 32 != 16"):
        train(other, tmp_path)
    more = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=4))
    assert train(more, tmp_path)["steps_this_session"] == 2


def test_norm_clipping_and_adam(handwriting_data: Path, tmp_path: Path) -> None:
    config = _config("handwriting", handwriting_data, steps=3, clip="norm", optimizer="adam")
    assert train(config, tmp_path)["step"] == 3


def test_time_budget_stops_with_a_checkpoint(handwriting_data: Path, tmp_path: Path) -> None:
    config = _config("handwriting", handwriting_data, steps=10_000, max_minutes=0.0)
    summary = train(config, tmp_path)
    assert summary["step"] == 0 and (tmp_path / "checkpoint.pt").exists()


def test_static_and_dynamic_text_evaluation(text_data: Path, tmp_path: Path) -> None:
    train(_config("text", text_data, steps=20, batch_size=8, lr=3e-3), tmp_path)
    report = evaluate_run(tmp_path, "valid", dynamic="parallel")
    symbols = report["chars"]
    assert symbols == report["dynamic"]["chars"] > 1000
    # learning while reading helps (or at least does not hurt) on the same kind of text
    assert report["dynamic"]["bits_per_char"] < report["bits_per_char"] + 0.05
    assert report["split"] == "valid" and report["step"] == 20


@pytest.mark.slow
def test_text_run_on_the_generated_ptb(ptb_data: Path, tmp_path: Path) -> None:
    """On a generated Penn Treebank built by the real pipeline, 40 steps bring the validation at
    least 0.7 bits per character below the training split's unigram entropy (about 4.3 bits:
    the floor of a model without context); the test split is evaluated in the same units,
    statically and dynamically."""
    counts = [s["count"] for s in json.loads((ptb_data / "vocab.json").read_text())["symbols"]]
    total = sum(counts)
    unigram = -sum(c / total * math.log2(c / total) for c in counts if c)
    summary = train(_config("text", ptb_data, steps=40, batch_size=8, lr=3e-3), tmp_path)
    assert summary["valid"]["bits_per_char"] < unigram - 0.7
    report = evaluate_run(tmp_path, "test", dynamic="sequential")
    assert report["split"] == "test" and report["chars"] > 2000
    assert report["dynamic"]["bits_per_char"] < report["bits_per_char"] + 0.05


def test_a_run_trained_from_a_relative_path_evaluates_from_anywhere(
    handwriting_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(handwriting_data.parent)
    config = _config("handwriting", Path(handwriting_data.name), steps=2)
    assert Path(config.data) == handwriting_data.resolve()
    train(config, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert Path(saved["data"]).is_absolute()
    monkeypatch.chdir(tmp_path)
    report = evaluate_run(tmp_path / "run", "valid")
    assert report["split"] == "valid" and report["sequences"] == 32
