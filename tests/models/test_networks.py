"""The networks as the paper specifies them: shapes, skip connections, the two LSTM paths, the
derivative clipping hooks, the soft window, and Graves' RMSProp."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graves_data.models.config import PredictionConfig, SynthesisConfig, TextConfig
from graves_data.models.lstm import Clip, LSTMLayer, SkipLSTM
from graves_data.models.optim import GravesRMSprop
from graves_data.models.prediction import HandwritingPrediction
from graves_data.models.synthesis import HandwritingSynthesis, window_params, window_weights
from graves_data.models.text import CharLSTM


def test_prediction_network_of_the_paper() -> None:
    model = HandwritingPrediction(PredictionConfig())
    layers = model.lstm.layers
    assert [layer.lstm.input_size for layer in layers] == [3, 403, 403]  # input skips in
    assert [layer.hidden for layer in layers] == [400, 400, 400]
    assert model.head.in_features == 1200 and model.head.out_features == 121  # all layers out
    y, state = model(torch.zeros(2, 5, 3))
    assert y.shape == (2, 5, 121) and len(state) == 3


def test_synthesis_network_feeds_the_window_to_every_layer() -> None:
    model = HandwritingSynthesis(SynthesisConfig(vocab_size=30))
    assert model.first.lstm.input_size == 3 + 30
    assert model.window.out_features == 3 * 10
    assert model.rest is not None
    assert [layer.lstm.input_size for layer in model.rest.layers] == [3 + 30 + 400] * 2
    assert model.head.out_features == 121


def test_text_network_sizes_by_flag() -> None:
    model = CharLSTM(TextConfig(hidden=70, layers=7, vocab_size=205))
    assert len(model.lstm.layers) == 7
    logits, _ = model(torch.zeros(2, 4, dtype=torch.long))
    assert logits.shape == (2, 4, 205)


def test_fused_and_stepped_paths_agree() -> None:
    torch.manual_seed(0)
    stack = SkipLSTM(5, 8, 3)
    x = torch.randn(3, 12, 5)
    fused, fused_state = stack(x)
    stepped, stepped_state = stack(x, clip=1e9)  # clipping forces the stepped path
    torch.testing.assert_close(fused, stepped, atol=1e-5, rtol=1e-5)
    for (h1, c1), (h2, c2) in zip(fused_state, stepped_state, strict=True):
        torch.testing.assert_close(h1, h2, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(c1, c2, atol=1e-5, rtol=1e-5)


def test_state_carries_over_between_calls() -> None:
    torch.manual_seed(0)
    stack = SkipLSTM(2, 6, 2)
    x = torch.randn(2, 10, 2)
    whole, _ = stack(x)
    first, state = stack(x[:, :4])
    second, _ = stack(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-6, rtol=1e-5)


def _preactivation_grads(layer: LSTMLayer, x: torch.Tensor, clip: float | None) -> torch.Tensor:
    """d loss / d gate pre-activations at every step, captured by a second hook."""
    seen: list[torch.Tensor] = []
    original = layer.cell

    def cell(
        projected: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], bound: float | None
    ):
        projected = projected.clone()
        projected.register_hook(lambda g: seen.append(g.clone()))
        return original(projected, state, bound)

    layer.cell = cell  # type: ignore[method-assign]
    layer.impl = "stepped"  # the oracle: the hooks of the fused path's backward, step by step
    out, _ = layer(x, clip=clip if clip is not None else 1e30)
    (out.sum() * 1e4).backward()
    layer.cell = original  # type: ignore[method-assign]
    return torch.stack(seen)


def test_lstm_clipping_bounds_the_preactivation_derivatives() -> None:
    torch.manual_seed(0)
    layer = LSTMLayer(3, 4)
    x = torch.randn(2, 6, 3)
    free = _preactivation_grads(layer, x, None)
    clipped = _preactivation_grads(layer, x, 10.0)
    assert free.abs().max() > 10.0
    assert clipped.abs().max() <= 10.0 + 1e-4


def test_output_clipping_bounds_the_output_derivatives() -> None:
    torch.manual_seed(0)
    model = HandwritingPrediction(PredictionConfig(hidden=8, layers=1, mixtures=2))
    x = torch.randn(1, 3, 3)
    y, _ = model(x, clip=Clip(output=100.0))
    (y.sum() * 1e6).backward()  # d loss / d y = 1e6 everywhere, clipped to 100
    weight_grad = model.head.weight.grad
    assert weight_grad is not None
    hidden = model.lstm(x)[0]
    expected = torch.full_like(y, 100.0).reshape(-1, y.shape[-1]).T @ hidden.reshape(-1, 8)
    torch.testing.assert_close(weight_grad, expected.detach(), rtol=1e-5, atol=1e-3)


def test_peepholes_take_the_stepped_path() -> None:
    torch.manual_seed(0)
    layer = LSTMLayer(3, 4, peepholes=True)
    assert layer.peephole is not None
    layer.peephole.data.normal_()
    out, _ = layer(torch.randn(2, 5, 3))
    plain = LSTMLayer(3, 4)
    plain.load_state_dict({k: v for k, v in layer.state_dict().items() if k != "peephole"})
    different, _ = plain(torch.randn(2, 5, 3))
    assert out.shape == (2, 5, 4) and not torch.allclose(out, different)


def test_soft_window_equations() -> None:
    raw = torch.tensor([[math.log(2.0), 0.0, math.log(0.5), 0.0, math.log(1.5), math.log(0.25)]])
    alpha, beta, kappa = window_params(raw, torch.tensor([[1.0, 2.0]]))
    torch.testing.assert_close(alpha, torch.tensor([[2.0, 1.0]]))
    torch.testing.assert_close(beta, torch.tensor([[0.5, 1.0]]))
    torch.testing.assert_close(kappa, torch.tensor([[2.5, 2.25]]))
    phi = window_weights(alpha, beta, kappa, 4)[0]
    for u in range(1, 5):
        direct = 2.0 * math.exp(-0.5 * (2.5 - u) ** 2) + math.exp(-1.0 * (2.25 - u) ** 2)
        assert phi[u - 1].item() == pytest.approx(direct, rel=1e-6)


def test_window_moves_forward_and_ignores_padding() -> None:
    torch.manual_seed(0)
    model = HandwritingSynthesis(
        SynthesisConfig(hidden=8, layers=2, mixtures=2, window=3, vocab_size=6)
    )
    text = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 1, 2, 3]])
    mask = torch.tensor([[1.0, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    x = torch.randn(2, 7, 3)
    y, state, phi = model(x, text, mask, keep_phi=True)
    assert y.shape == (2, 7, 13) and phi is not None and phi.shape == (2, 7, 6)
    assert (state.kappa > 0).all()
    # the padded characters of line 0 are outside its window: changing them changes nothing
    y2, _, _ = model(x, torch.tensor([[1, 2, 3, 5, 5], [4, 5, 1, 2, 3]]), mask)
    torch.testing.assert_close(y[0], y2[0])
    # stepping one point at a time gives the same as the whole sequence
    step_state, outs = None, []
    for t in range(7):
        out, step_state, _ = model(x[:, t : t + 1], text, mask, step_state)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), y, atol=1e-5, rtol=1e-5)


def test_graves_rmsprop_follows_eqs_38_to_41() -> None:
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=5)
    grads = rng.normal(size=(6, 5))
    param = torch.nn.Parameter(torch.tensor(w0))
    optimizer = GravesRMSprop([param], lr=1e-2)
    n, g, delta, w = np.zeros(5), np.zeros(5), np.zeros(5), w0.copy()
    for e in grads:
        param.grad = torch.tensor(e)
        optimizer.step()
        n = 0.95 * n + 0.05 * e**2
        g = 0.95 * g + 0.05 * e
        delta = 0.9 * delta - 1e-2 * e / np.sqrt(n - g**2 + 1e-4)
        w = w + delta
    np.testing.assert_allclose(param.detach().numpy(), w, rtol=1e-12, atol=1e-12)
    state = optimizer.state_dict()["state"][0]
    assert set(state) == {"n", "g", "delta"}


def test_graves_rmsprop_is_not_torch_centered_rmsprop() -> None:
    """torch's epsilon sits outside the square root: with small gradients they part ways."""
    a = torch.nn.Parameter(torch.ones(3))
    b = torch.nn.Parameter(torch.ones(3))
    ours = GravesRMSprop([a], lr=1e-4)
    theirs = torch.optim.RMSprop([b], lr=1e-4, alpha=0.95, eps=1e-4, momentum=0.9, centered=True)
    for _ in range(3):
        a.grad = torch.full((3,), 1e-3)
        b.grad = torch.full((3,), 1e-3)
        ours.step()
        theirs.step()
    assert not torch.allclose(a, b, rtol=0, atol=1e-7)
