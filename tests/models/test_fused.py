"""The fused LSTM path against the stepped oracle: the same gradients in float64 (peepholes on and
off, derivative clipping active and inactive, padded batches, state carried across chunks), the
same losses over 50 training steps, and the choice of path recorded in the run's config."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from graves_data.models import fused
from graves_data.models.cli import main
from graves_data.models.config import (
    LoaderConfig,
    PredictionConfig,
    RunConfig,
    SynthesisConfig,
    TextConfig,
    TrainConfig,
)
from graves_data.models.lstm import Clip, LSTMLayer, set_impl
from graves_data.models.metrics import read_metrics
from graves_data.models.noise import AdaptiveNoise, with_weights
from graves_data.models.prediction import HandwritingPrediction
from graves_data.models.synthesis import HandwritingSynthesis
from graves_data.models.text import CharLSTM
from graves_data.models.train import prepare, train

TOLERANCE = 1e-10
# a bound that binds somewhere (the tests check it does) and one that never does
ACTIVE, INACTIVE = 0.02, 1e9


@pytest.fixture(autouse=True)
def _float64() -> Iterator[None]:
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _random_peepholes(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LSTMLayer) and module.peephole is not None:
                module.peephole.normal_(generator=generator)


def _gradients(
    model: nn.Module, impl: str, loss: Callable[[], torch.Tensor], extra: list[torch.Tensor]
) -> dict[str, torch.Tensor]:
    set_impl(model, impl)  # type: ignore[arg-type]
    model.zero_grad(set_to_none=True)
    for tensor in extra:
        tensor.grad = None
    loss().backward()
    found = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    found.update({f"input{i}": t.grad.clone() for i, t in enumerate(extra) if t.grad is not None})
    assert len(found) == len(list(model.parameters())) + len(extra)
    return found


def _assert_same(
    model: nn.Module, loss: Callable[[], torch.Tensor], extra: list[torch.Tensor]
) -> dict[str, torch.Tensor]:
    fused = _gradients(model, "fused", loss, extra)
    stepped = _gradients(model, "stepped", loss, extra)
    for name, grad in stepped.items():
        difference = float((fused[name] - grad).abs().max())
        assert difference <= TOLERANCE, f"{name}: {difference:.3e}"
    return stepped


def _assert_clipping_acted(
    active: dict[str, torch.Tensor], inactive: dict[str, torch.Tensor]
) -> None:
    assert any(not torch.allclose(active[n], inactive[n]) for n in inactive)


@pytest.fixture(params=[16, 4, 1])
def block(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Steps per block of the fused layer's input projections: the default (one block for
    these short sequences), blocks with a short last one, and one step a block."""
    monkeypatch.setattr(fused, "CPU_BLOCK", request.param)
    return int(request.param)


@pytest.mark.parametrize("peepholes", [False, True])
def test_layer_gradients_equal_the_oracle(peepholes: bool, block: int) -> None:
    torch.manual_seed(0)
    layer = LSTMLayer(5, 7, peepholes)
    _random_peepholes(layer, 1)
    x = torch.randn(4, 13, 5, requires_grad=True)
    h0 = torch.randn(4, 7, requires_grad=True)
    c0 = torch.randn(4, 7, requires_grad=True)
    target = torch.randn(4, 13, 7)
    # padded lines: steps past each line's end count for nothing in the loss
    mask = (torch.arange(13) < torch.tensor([[13], [9], [4], [11]])).to(x.dtype).unsqueeze(-1)
    found = {}
    for bound in (ACTIVE, INACTIVE):

        def loss(bound: float = bound) -> torch.Tensor:
            # two chunks, the state carried from the first into the second
            first, state = layer(x[:, :6], (h0, c0), bound)
            second, (h, c) = layer(x[:, 6:], state, bound)
            out = torch.cat([first, second], dim=1)
            return 40.0 * ((out - target).square() * mask).sum() + (h * c).sum() + c.sum()

        found[bound] = _assert_same(layer, loss, [x, h0, c0])
    _assert_clipping_acted(found[ACTIVE], found[INACTIVE])


def test_layer_without_clipping_or_peepholes_is_nn_lstm_on_both_paths() -> None:
    torch.manual_seed(0)
    layer = LSTMLayer(3, 4)
    x = torch.randn(2, 5, 3)
    set_impl(layer, "fused")
    fused, _ = layer(x)
    stepped, _ = layer(x, clip=INACTIVE)  # clipping forces the fused recurrence
    torch.testing.assert_close(fused, stepped, atol=1e-12, rtol=1e-12)


def _synthesis(peepholes: bool, layers: int = 3) -> HandwritingSynthesis:
    torch.manual_seed(2)
    config = SynthesisConfig(hidden=6, layers=layers, mixtures=2, window=3, vocab_size=7)
    model = HandwritingSynthesis(dataclasses.replace(config, peepholes=peepholes))
    _random_peepholes(model, 3)
    return model


@pytest.mark.parametrize("peepholes", [False, True])
def test_synthesis_gradients_equal_the_oracle(peepholes: bool) -> None:
    model = _synthesis(peepholes)
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(3, 11, 3, generator=generator)
    text = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 1, 2], [3, 3, 0, 0, 0]])
    text_mask = (text > 0).to(x.dtype)
    points = (torch.arange(11) < torch.tensor([[11], [7], [5]])).to(x.dtype).unsqueeze(-1)
    kappa0 = torch.rand(3, 3, generator=generator, requires_grad=True)
    found = {}
    for bound in (ACTIVE, INACTIVE):

        def loss(bound: float = bound) -> torch.Tensor:
            clip = Clip(bound, 50.0)
            state = model.initial_state(3, x)._replace(kappa=kappa0)
            first, state, _ = model(x[:, :4], text, text_mask, state, clip)
            second, state, phi = model(x[:, 4:], text, text_mask, state, clip, keep_phi=True)
            assert phi is not None and phi.shape == (3, 7, 6)
            y = torch.cat([first, second], dim=1)
            return 20.0 * (y.square() * points).sum() + state.kappa.sum() + state.window.sum()

        found[bound] = _assert_same(model, loss, [kappa0])
    _assert_clipping_acted(found[ACTIVE], found[INACTIVE])


def test_synthesis_outputs_and_phi_equal_the_oracle() -> None:
    model = _synthesis(True, layers=2)
    x = torch.randn(2, 9, 3)
    text = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 1]])
    mask = (text > 0).to(x.dtype)
    results = []
    for impl in ("fused", "stepped"):
        set_impl(model, impl)  # type: ignore[arg-type]
        with torch.no_grad():
            results.append(model(x, text, mask, None, Clip(ACTIVE), keep_phi=True))
    (y1, s1, phi1), (y2, s2, phi2) = results
    assert phi1 is not None and phi2 is not None
    for a, b in [(y1, y2), (phi1, phi2), (s1.kappa, s2.kappa), (s1.window, s2.window)]:
        assert float((a - b).abs().max()) <= TOLERANCE


@pytest.mark.parametrize("network", ["prediction", "text"])
@pytest.mark.parametrize("peepholes", [False, True])
def test_networks_gradients_equal_the_oracle(network: str, peepholes: bool, block: int) -> None:
    torch.manual_seed(5)
    model: nn.Module
    if network == "prediction":
        model = HandwritingPrediction(
            PredictionConfig(hidden=6, layers=3, mixtures=2, peepholes=peepholes)
        )
        inputs: torch.Tensor = torch.randn(3, 10, 3)
    else:
        model = CharLSTM(TextConfig(hidden=6, layers=2, peepholes=peepholes, vocab_size=9))
        inputs = torch.randint(0, 9, (3, 10))
    _random_peepholes(model, 6)
    for bound in (ACTIVE, INACTIVE):

        def loss(bound: float = bound) -> torch.Tensor:
            first, state = model(inputs[:, :3], None, Clip(bound, 1.0))
            second, _ = model(inputs[:, 3:], state, Clip(bound, 1.0))
            return 30.0 * torch.cat([first, second], dim=1).square().sum()

        _assert_same(model, loss, [])


def test_unknown_implementation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown LSTM implementation"):
        set_impl(LSTMLayer(2, 2), "cudnn")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# training


def _losses(task: str, data: Path, impl: str, run: Path) -> list[float]:
    torch.set_default_dtype(torch.float32)
    model = (
        SynthesisConfig(hidden=16, layers=2, mixtures=3, window=2, peepholes=True)
        if task == "synthesis"
        else PredictionConfig(hidden=16, layers=2, mixtures=3, peepholes=True)
    )
    config = prepare(
        RunConfig(
            task=task,  # type: ignore[arg-type]
            data=str(data),
            model=model,
            train=TrainConfig(
                steps=50,
                batch_size=8,
                lr=1e-3,
                log_every=1,
                progress=False,
                tensorboard=False,
                eval_batches=1,
                lstm_impl=impl,  # type: ignore[arg-type]
            ),
            loader=LoaderConfig(shuffle_buffer=16, max_points=60),
        )
    )
    train(config, run)
    rows = read_metrics(run)
    return [r["value"] for r in rows if r["split"] == "train" and r["name"] == "loss"]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["handwriting", "synthesis"])
def test_fifty_training_steps_give_the_same_losses(
    task: str, handwriting_data: Path, tmp_path: Path
) -> None:
    fused = _losses(task, handwriting_data, "fused", tmp_path / "fused")
    stepped = _losses(task, handwriting_data, "stepped", tmp_path / "stepped")
    assert len(fused) == len(stepped) == 50
    assert fused[-1] < fused[0]  # it trains: the comparison is between moving runs
    # relative: the losses are nats per sequence, hundreds, where float32 resolves about 3e-5
    assert max(abs(a - b) / abs(b) for a, b in zip(fused, stepped, strict=True)) <= 1e-5


def test_the_implementation_is_an_option_saved_in_the_run(
    handwriting_data: Path, tmp_path: Path
) -> None:
    torch.set_default_dtype(torch.float32)
    run = tmp_path / "run"
    args = ["train", "handwriting", "--data", str(handwriting_data), "--run", str(run)]
    args += ["--steps", "1", "--hidden", "8", "--layers", "1", "--mixtures", "2"]
    args += ["--eval-batches", "1", "--no-progress", "--no-tensorboard", "--lstm-impl", "stepped"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["lstm_impl"] == "stepped"
    assert TrainConfig().lstm_impl == "fused"


def test_a_second_backward_is_refused() -> None:
    layer = LSTMLayer(2, 3, peepholes=True)
    out, _ = layer(torch.randn(2, 4, 2), clip=1.0)
    loss = out.sum()
    loss.backward(retain_graph=True)
    # the backward writes the derivatives over the saved activations: autograd sees it
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# ---------------------------------------------------------------------------------------------
# weight noise runs through the fused path: its functions take the sampled weights as inputs


@pytest.mark.parametrize("network", ["prediction", "synthesis"])
@pytest.mark.parametrize("peepholes", [False, True])
def test_weight_noise_gradients_through_the_fused_path_equal_the_oracle(
    network: str, peepholes: bool
) -> None:
    """The noisy forward (`with_weights`: the sampled weights swapped in by functional_call)
    gives the posterior's means and deviations the oracle's gradients on the fused path, with
    clipping active and without (nn.LSTM computes a layer with neither peepholes nor clipping),
    and the sampled weights are what runs (the output differs from the means')."""
    torch.manual_seed(7)
    model: nn.Module
    if network == "synthesis":
        model = _synthesis(peepholes, layers=2)
    else:
        model = HandwritingPrediction(
            PredictionConfig(hidden=6, layers=2, mixtures=2, peepholes=peepholes)
        )
        _random_peepholes(model, 8)
    noise = AdaptiveNoise(model, 0.05)
    x = torch.randn(3, 9, 3)
    text = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 1], [2, 2, 0, 0]])
    text_mask = (text > 0).to(x.dtype)

    def run(net: nn.Module, bound: float | None) -> torch.Tensor:
        if network == "synthesis":
            y, _, _ = net(x, text, text_mask, None, Clip(bound, 50.0))
        else:
            y, _ = net(x, None, Clip(bound, 50.0))
        return torch.as_tensor(y)

    means = len(list(model.parameters()))
    params = list(model.parameters()) + list(noise.parameters())
    for bound in (ACTIVE, None):
        found: dict[str, list[torch.Tensor]] = {}
        for impl in ("fused", "stepped"):
            set_impl(model, impl)  # type: ignore[arg-type]
            weights = noise.sample(model, torch.Generator().manual_seed(11))
            # the oracle runs nn.LSTM's layers too when nothing is clipped: an unreachable
            # bound sends it through its own steps instead
            oracle_bound = INACTIVE if bound is None and impl == "stepped" else bound
            noisy = run(with_weights(model, weights), oracle_bound)
            with torch.no_grad():
                assert not torch.allclose(noisy, run(model, oracle_bound))
            loss = 20.0 * noisy.square().sum() + noise.complexity(model)
            found[impl] = list(torch.autograd.grad(loss, params))
        for a, b in zip(found["fused"], found["stepped"], strict=True):
            assert float((a - b).abs().max()) <= TOLERANCE
        assert all(float(g.abs().sum()) > 0 for g in found["fused"][means:])
