"""The paper's protocol (issue 13): adaptive and fixed weight noise, SGD with momentum, the text
networks' defaults, sequential dynamic evaluation, peepholes by default; and a run's settings
checked when it is loaded (issue 14, item 18)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from graves_data.errors import DatasetError, UsageError
from graves_data.models import evaluate as evaluate_module
from graves_data.models.cli import main
from graves_data.models.config import (
    LoaderConfig,
    PredictionConfig,
    RunConfig,
    SynthesisConfig,
    TextConfig,
    TrainConfig,
    weight_noise_spec,
)
from graves_data.models.data import make_loader
from graves_data.models.evaluate import dynamic_evaluation, evaluate_model, load_run
from graves_data.models.metrics import read_metrics
from graves_data.models.noise import AdaptiveNoise, fixed_sample, with_weights
from graves_data.models.train import Trainer, prepare, train

SMALL = PredictionConfig(hidden=16, layers=2, mixtures=3)


def _config(data: Path, task: str = "handwriting", **train_options: Any) -> RunConfig:
    options: dict[str, Any] = {
        "batch_size": 8,
        "lr": 1e-3,
        "progress": False,
        "tensorboard": False,
        "log_every": 2,
        **train_options,
    }
    model: Any = SMALL if task == "handwriting" else TextConfig(hidden=24, layers=1)
    return prepare(
        RunConfig(
            task=task,  # type: ignore[arg-type]
            data=str(data),
            model=model,
            train=TrainConfig(**options),
            loader=LoaderConfig(shuffle_buffer=32),
        )
    )


# ---------------------------------------------------------------------------------------------
# the complexity cost of adaptive weight noise


def _tiny(seed: int = 0) -> tuple[nn.Module, AdaptiveNoise]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)).double()
    noise = AdaptiveNoise(model, 0.1).double()
    with torch.no_grad():
        for param in noise.parameters():
            param.uniform_(-3.0, -1.0)  # deviations between 0.05 and 0.37
    return model, noise


def _direct_kl(mus: list[float], sigmas: list[float], mu_p: float, var_p: float) -> float:
    """KL(N(mu_i, sigma_i^2) || N(mu_p, var_p)) summed, written out weight by weight."""
    return sum(
        math.log(math.sqrt(var_p) / s) + (s * s + (m - mu_p) ** 2) / (2 * var_p) - 0.5
        for m, s in zip(mus, sigmas, strict=True)
    )


def _flat(model: nn.Module, noise: AdaptiveNoise) -> tuple[list[float], list[float]]:
    mus = [float(v) for p in model.parameters() for v in p.detach().reshape(-1)]
    sigmas = [float(v) for _, s in noise.sigmas() for v in s.detach().reshape(-1)]
    return mus, sigmas


def test_complexity_cost_is_the_kl_divergence_from_the_optimal_prior() -> None:
    model, noise = _tiny()
    mus, sigmas = _flat(model, noise)
    assert len(mus) == len(sigmas) == 3 * 2 + 2 + 2 + 1
    mu_p = sum(mus) / len(mus)
    var_p = sum(s * s + (m - mu_p) ** 2 for m, s in zip(mus, sigmas, strict=True)) / len(mus)
    found = float(noise.complexity(model).detach())
    assert found == pytest.approx(_direct_kl(mus, sigmas, mu_p, var_p), rel=1e-12)
    # the prior is the optimum: moving its mean or its variance only costs more
    for d_mu, d_var in ((0.01, 0.0), (-0.01, 0.0), (0.0, 0.01 * var_p), (0.0, -0.01 * var_p)):
        assert _direct_kl(mus, sigmas, mu_p + d_mu, var_p + d_var) > found
    # at the optimum the quadratic terms sum to W/2: L_C = sum_i ln(sigma_p / sigma_i)
    closed = sum(math.log(math.sqrt(var_p) / s) for s in sigmas)
    assert found == pytest.approx(closed, rel=1e-12)


def test_complexity_gradients_match_finite_differences() -> None:
    model, noise = _tiny(1)
    params = list(model.parameters()) + list(noise.parameters())
    cost = noise.complexity(model)
    grads = torch.autograd.grad(cost, params)
    step = 1e-6
    for param, grad in zip(params, grads, strict=True):
        flat, expected = param.data.view(-1), grad.reshape(-1)
        for i in range(flat.numel()):
            keep = float(flat[i])
            flat[i] = keep + step
            up = float(noise.complexity(model).detach())
            flat[i] = keep - step
            down = float(noise.complexity(model).detach())
            flat[i] = keep
            assert (up - down) / (2 * step) == pytest.approx(float(expected[i]), abs=1e-7)


def test_sampled_weights_follow_the_posterior_and_reach_the_gradients() -> None:
    torch.manual_seed(0)
    model = nn.Linear(200, 50)
    noise = AdaptiveNoise(model, 0.05)
    weights = noise.sample(model)
    offsets = (weights["weight"] - model.weight).detach()
    assert abs(float(offsets.std()) - 0.05) < 0.002 and abs(float(offsets.mean())) < 0.002
    out = with_weights(model, weights)(torch.ones(1, 200)).sum()
    out.backward()
    # the means and the deviations both learn (reparameterisation: w = mu + sigma * eps)
    assert model.weight.grad is not None and float(model.weight.grad.abs().sum()) > 0
    sigma_grad = noise.log_sigma["weight"].grad
    assert sigma_grad is not None and float(sigma_grad.abs().sum()) > 0
    fixed = fixed_sample(model, 0.3)
    assert abs(float((fixed["bias"] - model.bias).detach().std()) - 0.3) < 0.1


# ---------------------------------------------------------------------------------------------
# training with weight noise


@pytest.mark.parametrize("noise", ["adaptive", "0.05"])
def test_weight_noise_training_resumes_exactly(
    noise: str, handwriting_data: Path, tmp_path: Path
) -> None:
    whole = _config(handwriting_data, steps=8, weight_noise=noise, checkpoint_every=100)
    # the defaults: peepholes and paper clipping on the fused LSTM, which the noise runs through
    assert whole.train.lstm_impl == "fused" and whole.model.peepholes
    train(whole, tmp_path / "whole")
    half = dataclasses.replace(whole, train=dataclasses.replace(whole.train, steps=4))
    train(half, tmp_path / "resumed")
    train(whole, tmp_path / "resumed")
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 8
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    if noise == "adaptive":
        assert a["noise"].keys() == b["noise"].keys() and a["noise"]
        for name, tensor in a["noise"].items():
            assert torch.equal(tensor, b["noise"][name]), name
    else:
        assert a["noise"] is None
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for key, state in a["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, b["optimizer"]["state"][key][name])

    def train_rows(run: Path) -> list[dict[str, Any]]:
        return [
            r
            for r in read_metrics(run)
            if r["split"] == "train" and not r["name"].endswith("_per_s")
        ]

    assert train_rows(tmp_path / "whole") == train_rows(tmp_path / "resumed")


def test_adaptive_noise_trains_the_posterior_and_reports_the_mdl_loss(
    handwriting_data: Path, tmp_path: Path
) -> None:
    config = _config(handwriting_data, steps=6, weight_noise="adaptive", noise_init=0.02)
    config.save(tmp_path)
    trainer = Trainer(config, tmp_path)
    before = {k: v.detach().clone() for k, v in trainer.noise.state_dict().items()}  # type: ignore[union-attr]
    summary = trainer.fit()
    after = trainer.noise.state_dict()  # type: ignore[union-attr]
    assert any(not torch.equal(before[k], after[k]) for k in before)
    rows = {
        (r["step"], r["name"]): r["value"] for r in read_metrics(tmp_path) if r["split"] == "train"
    }
    sequences = 96  # the fixture's training lines: L_C is divided among them
    for step in (2, 4, 6):
        complexity, loss = rows[(step, "complexity")], rows[(step, "loss")]
        assert complexity > 0
        assert rows[(step, "mdl_loss")] == pytest.approx(loss + complexity / sequences)
    # validation uses the posterior means: the network's own parameters, no noise
    static = evaluate_model(trainer.task, trainer.model, trainer.valid_split, trainer.device)
    assert static["nll_per_sequence"] == pytest.approx(summary["valid"]["nll_per_sequence"])
    loaded = load_run(tmp_path)
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, trainer.model.state_dict()[name])


def test_fixed_noise_changes_the_steps_and_zero_noise_does_not(
    handwriting_data: Path, tmp_path: Path
) -> None:
    runs = {}
    for name, noise in (("plain", "none"), ("zero", "0"), ("noisy", "0.05")):
        train(_config(handwriting_data, steps=3, weight_noise=noise), tmp_path / name)
        runs[name] = torch.load(tmp_path / name / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(runs["plain"][k], runs["zero"][k]) for k in runs["plain"])
    assert any(not torch.equal(runs["plain"][k], runs["noisy"][k]) for k in runs["plain"])


def test_bad_weight_noise_values_are_refused() -> None:
    assert weight_noise_spec("adaptive").kind == "adaptive"
    assert weight_noise_spec("0.075").std == 0.075
    for value in ("-0.1", "nan", "inf", "lots"):
        with pytest.raises(UsageError, match="--weight-noise"):
            weight_noise_spec(value)


# ---------------------------------------------------------------------------------------------
# SGD and the text networks' protocol


def test_sgd_steps_are_torch_sgd_and_the_papers_momentum_update(
    handwriting_data: Path, tmp_path: Path
) -> None:
    config = _config(handwriting_data, optimizer="sgd", lr=0.01, momentum=0.9, clip="none", steps=3)
    trainer = Trainer(config, tmp_path)
    reference = copy.deepcopy(trainer.model)
    paper = copy.deepcopy(trainer.model)
    initial = copy.deepcopy(trainer.model)
    torch_sgd = torch.optim.SGD(reference.parameters(), lr=0.01, momentum=0.9)
    deltas = [torch.zeros_like(p) for p in paper.parameters()]
    stream = trainer.task.stream(trainer.train_split, train=True)
    batches = list(zip(range(3), make_loader(stream, 0), strict=False))
    for _, batch in batches:
        trainer.train_step(batch)
        for model in (reference, paper):
            model.zero_grad()
            loss, _, _ = trainer.task.forward(model, batch, None, trainer.clip(8))
            loss.backward()
        torch_sgd.step()
        with torch.no_grad():  # delta = momentum * delta - lr * e; w = w + delta
            for param, delta in zip(paper.parameters(), deltas, strict=True):
                assert param.grad is not None
                delta.mul_(0.9).sub_(0.01 * param.grad)
                param.add_(delta)
    for mine, theirs, papers in zip(
        trainer.model.parameters(), reference.parameters(), paper.parameters(), strict=True
    ):
        assert torch.equal(mine, theirs)
        assert torch.allclose(mine, papers, rtol=0, atol=1e-6)
    moved = sum(
        float((a - b).detach().abs().sum())
        for a, b in zip(trainer.model.parameters(), initial.parameters(), strict=True)
    )
    assert moved > 1e-3  # the steps did move the weights


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


QUIET = ["--hidden", "16", "--batch-size", "8", "--no-progress", "--no-tensorboard"]


def _train_text(data: Path, run: Path, *extra: str) -> dict[str, Any]:
    """`train text` for one step with `extra` options; the run's saved config.json."""
    out = _invoke(
        "train", "text", "--data", str(data), "--run", str(run), "--steps", "1", *QUIET, *extra
    )
    assert out.exit_code == 0, out.output
    saved: dict[str, Any] = json.loads((run / "config.json").read_text())
    return saved


def test_text_runs_follow_the_papers_protocol_for_their_corpus(
    ptb_data: Path, text_data: Path, tmp_path: Path
) -> None:
    saved = _train_text(ptb_data, tmp_path / "p")
    train = saved["train"]
    protocol = (train["optimizer"], train["lr"], train["momentum"], train["lstm_clip"])
    assert protocol == ("sgd", 1e-4, 0.99, 1.0)
    assert saved["model"]["peepholes"]
    # an explicit option overrides the protocol; the rest of it stays
    train = _train_text(ptb_data, tmp_path / "q", "--momentum", "0.5")["train"]
    assert (train["optimizer"], train["momentum"], train["lstm_clip"]) == ("sgd", 0.5, 1.0)
    # a corpus the paper did not use keeps the general defaults
    train = _train_text(text_data, tmp_path / "t")["train"]
    assert (train["optimizer"], train["lstm_clip"]) == ("rmsprop", 10.0)


def test_peepholes_are_on_by_default_and_can_be_turned_off(
    handwriting_data: Path, tmp_path: Path
) -> None:
    assert PredictionConfig().peepholes and SynthesisConfig().peepholes and TextConfig().peepholes
    args = ["--data", str(handwriting_data), "--steps", "1", "--layers", "1", "--mixtures", "2"]
    for name, extra in (("on", []), ("off", ["--no-peepholes"])):
        result = _invoke(
            "train", "handwriting", "--run", str(tmp_path / name), *args, *QUIET, *extra
        )
        assert result.exit_code == 0, result.output
    on = torch.load(tmp_path / "on" / "checkpoint.pt", weights_only=True)["model"]
    off = torch.load(tmp_path / "off" / "checkpoint.pt", weights_only=True)["model"]
    assert any(k.endswith("peephole") for k in on) and not any(k.endswith("peephole") for k in off)


# ---------------------------------------------------------------------------------------------
# dynamic evaluation


def test_sequential_dynamic_evaluation_scores_each_chunk_once_in_order_before_learning_it(
    text_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(text_data, "text", steps=4, lr=3e-3)
    train(config, tmp_path)
    loaded = load_run(tmp_path)
    static = evaluate_model(
        loaded.task,
        copy.deepcopy(loaded.model),
        "valid",
        torch.device("cpu"),
        batches=None,
    )
    events: list[tuple[str, Any]] = []

    def record_forward(module: nn.Module, args: tuple[Any, ...]) -> None:
        events.append(("score", args[0].clone()))

    loaded.model.register_forward_pre_hook(record_forward)
    real_build = evaluate_module.build_optimizer

    def build(params: Any, train_config: TrainConfig) -> torch.optim.Optimizer:
        optimizer = real_build(params, train_config)
        step = optimizer.step

        def logged_step(*args: Any, **kwargs: Any) -> Any:
            events.append(("learn", None))
            return step(*args, **kwargs)

        optimizer.step = logged_step  # type: ignore[method-assign]
        return optimizer

    monkeypatch.setattr(evaluate_module, "build_optimizer", build)
    report = dynamic_evaluation(loaded, "valid", torch.device("cpu"), lr=1e-3)
    kinds = [kind for kind, _ in events]
    assert kinds == ["score", "learn"] * (len(kinds) // 2) and len(kinds) % 2 == 0
    # the chunks scored are the split's, once each, in order, one stream (batch of one)
    single = dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=1))
    from graves_data.models.tasks import make_task

    expected = [
        b.inputs for b in make_loader(make_task(single).stream("valid", train=False, epochs=1), 0)
    ]
    scored = [x for kind, x in events if kind == "score"]
    assert len(scored) == len(expected) > 50
    assert all(torch.equal(a, b) for a, b in zip(scored, expected, strict=True))
    assert report["chars"] == static["chars"]  # every character of the split, once


def test_parallel_dynamic_evaluation_remains_and_bad_rates_are_refused(
    text_data: Path, tmp_path: Path
) -> None:
    train(_config(text_data, "text", steps=4, lr=3e-3), tmp_path)
    loaded = load_run(tmp_path)
    parallel = dynamic_evaluation(loaded, "valid", torch.device("cpu"), mode="parallel")
    assert parallel["chars"] > 1000
    for lr in (0.0, -1e-3, float("nan")):
        with pytest.raises(UsageError, match="--dynamic-lr"):
            dynamic_evaluation(load_run(tmp_path), "valid", torch.device("cpu"), lr=lr)


def test_dynamic_evaluation_of_a_weight_noise_run_adapts_the_means_only(
    text_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's optimiser state (means and posterior deviations) loads; dynamic evaluation
    then moves the network's weights (the posterior means) and nothing else."""
    train(_config(text_data, "text", steps=4, lr=3e-3, weight_noise="adaptive"), tmp_path)
    loaded = load_run(tmp_path)
    assert loaded.state["noise"]
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    static = evaluate_model(loaded.task, copy.deepcopy(loaded.model), "valid", torch.device("cpu"))
    optimizers: list[torch.optim.Optimizer] = []
    real_build = evaluate_module.build_optimizer

    def build(params: Any, train_config: TrainConfig) -> torch.optim.Optimizer:
        optimizers.append(real_build(params, train_config))
        return optimizers[-1]

    monkeypatch.setattr(evaluate_module, "build_optimizer", build)
    report = dynamic_evaluation(loaded, "valid", torch.device("cpu"), batches=20, lr=1e-3)
    assert math.isfinite(report["bits_per_char"])
    assert any(not torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())
    (optimizer,) = optimizers
    means = {id(p) for p in loaded.model.parameters()}
    deviations = [p for g in optimizer.param_groups for p in g["params"] if id(p) not in means]
    assert deviations and all(p.grad is None for p in deviations)
    saved = list(loaded.state["noise"].values())
    assert all(torch.equal(a, b) for a, b in zip(deviations, saved, strict=True))
    assert static["chars"] > report["chars"] > 0  # the first 20 chunks


# ---------------------------------------------------------------------------------------------
# bad input on the command line and in a run's config.json


@pytest.mark.parametrize(
    "args",
    [
        ["--weight-noise", "-0.5"],
        ["--weight-noise", "nan"],
        ["--optimizer", "sgd", "--momentum", "1.0"],
        ["--optimizer", "sgd", "--momentum", "-0.1"],
    ],
)
def test_bad_training_options_give_one_line(
    args: list[str], handwriting_data: Path, tmp_path: Path
) -> None:
    result = _invoke(
        "train", "handwriting", "--data", str(handwriting_data), "--run", str(tmp_path / "r"),
        "--steps", "1", *QUIET, *args,
    )  # fmt: skip
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and args[-2] in lines[0]
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_bad_dynamic_learning_rates_give_one_line(
    value: str, handwriting_data: Path, tmp_path: Path
) -> None:
    train(_config(handwriting_data, steps=1), tmp_path)
    result = _invoke("eval", "--run", str(tmp_path), "--dynamic", "--dynamic-lr", value)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--dynamic-lr" in lines[0]


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("normalization", "std", [0.0, 0.0]),
        ("model", "hidden", -5),
        ("model", "hidden", "many"),
        ("train", "lr", -1.0),
    ],
)
def test_a_damaged_config_json_is_one_line_naming_the_file_and_field(
    section: str, field: str, value: Any, handwriting_data: Path, tmp_path: Path
) -> None:
    train(_config(handwriting_data, steps=2), tmp_path)
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    saved[section][field] = value
    path.write_text(json.dumps(saved))
    before = (tmp_path / "checkpoint.pt").read_bytes()
    for command in (
        ["eval", "--run", str(tmp_path)],
        ["train", "handwriting", "--run", str(tmp_path), "--steps", "4", "--no-progress"],
    ):
        result = _invoke(*command)
        assert result.exit_code != 0, command
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert (str(path) in lines[0] and f"{section}.{field}" in lines[0]) or (
            section == "train" and "lr" in lines[0] and str(path) in lines[0]
        )
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_a_non_finite_loss_stops_training_and_keeps_the_last_finite_checkpoint(
    handwriting_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(handwriting_data, steps=10, checkpoint_every=2)
    trainer = Trainer(config, tmp_path)
    forward = trainer.task.forward
    calls = {"n": 0}

    def poisoned(*args: Any) -> Any:
        loss, sums, carry = forward(*args)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 5 else loss), sums, carry

    monkeypatch.setattr(trainer.task, "forward", poisoned)
    with pytest.raises(DatasetError, match="non-finite loss"):
        trainer.fit()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4
    assert all(bool(torch.isfinite(t).all()) for t in state["model"].values())
