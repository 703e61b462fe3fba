"""The mixture density output: eq 26 against scipy, finite gradients at extremes, sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from graves_data.models import mixture

M = 4


def _params(rng: np.random.Generator, rows: int) -> torch.Tensor:
    y = rng.normal(size=(rows, mixture.output_size(M)))
    y[:, 1 + 3 * M : 1 + 5 * M] = rng.uniform(-1.5, 0.5, size=(rows, 2 * M))  # log sigmas
    y[:, 1 + 5 * M :] = rng.uniform(-2.0, 2.0, size=(rows, M))  # rho_hat: |rho| up to 0.96
    return torch.tensor(y, dtype=torch.float64)


def _scipy_nll(y: np.ndarray, x: np.ndarray) -> float:
    """Eq 26 for one step, from scipy's bivariate normal density."""
    e = 1.0 / (1.0 + math.exp(y[0]))
    pi_hat = y[1 : 1 + M]
    pi = np.exp(pi_hat - pi_hat.max())
    pi /= pi.sum()
    mu1, mu2 = y[1 + M : 1 + 2 * M], y[1 + 2 * M : 1 + 3 * M]
    s1, s2 = np.exp(y[1 + 3 * M : 1 + 4 * M]), np.exp(y[1 + 4 * M : 1 + 5 * M])
    rho = np.tanh(y[1 + 5 * M :])
    density = 0.0
    for j in range(M):
        cov = [[s1[j] ** 2, rho[j] * s1[j] * s2[j]], [rho[j] * s1[j] * s2[j], s2[j] ** 2]]
        density += pi[j] * multivariate_normal(mean=[mu1[j], mu2[j]], cov=cov).pdf(x[:2])
    bernoulli = e if x[2] == 1 else 1.0 - e
    return -math.log(density) - math.log(bernoulli)


def test_nll_equals_scipy() -> None:
    rng = np.random.default_rng(0)
    y = _params(rng, 64)
    x = torch.tensor(
        np.column_stack([rng.normal(size=(64, 2)), rng.integers(0, 2, size=64)]),
        dtype=torch.float64,
    )
    ours = mixture.point_nll(y, x, M).numpy()
    theirs = np.array([_scipy_nll(y[i].numpy(), x[i].numpy()) for i in range(64)])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_121_outputs_for_20_gaussians() -> None:
    assert mixture.output_size(20) == 121
    with pytest.raises(ValueError, match="121"):
        mixture.split(torch.zeros(2, 120), 20)


@pytest.mark.parametrize(
    ("sigma_hat", "rho_hat", "e_hat", "pi_hat"),
    [
        (-30.0, 0.0, 0.0, 0.0),  # tiny sigma
        (-8.0, 60.0, 0.0, 0.0),  # rho -> +1
        (-8.0, -60.0, 0.0, 0.0),  # rho -> -1
        (40.0, 9.0, 80.0, 0.0),  # huge sigma, saturated end-of-stroke logit
        (-12.0, -15.0, -80.0, 50.0),  # everything at once, peaked mixture weights
    ],
)
def test_gradients_finite_at_extreme_parameters(
    sigma_hat: float, rho_hat: float, e_hat: float, pi_hat: float
) -> None:
    y = torch.zeros(3, mixture.output_size(M))
    y[:, 0] = e_hat
    y[:, 1] = pi_hat
    y[:, 1 + 3 * M : 1 + 5 * M] = sigma_hat
    y[:, 1 + 5 * M :] = rho_hat
    y.requires_grad_(True)
    x = torch.tensor([[0.0, 0.0, 1.0], [3.0, -2.0, 0.0], [1e3, 1e3, 1.0]])
    loss = mixture.point_nll(y, x, M)
    loss.sum().backward()
    assert torch.isfinite(loss).all()
    assert y.grad is not None and torch.isfinite(y.grad).all()


def test_expected_point_and_sse() -> None:
    y = torch.zeros(1, mixture.output_size(2))
    y[0, 1:3] = torch.tensor([0.0, math.log(3.0)])  # pi = 1/4, 3/4
    y[0, 3:5] = torch.tensor([1.0, 2.0])  # mu1
    y[0, 5:7] = torch.tensor([-4.0, 0.0])  # mu2
    mean = mixture.expected(y, 2)[0]
    torch.testing.assert_close(mean, torch.tensor([1.75, -1.0, 0.5]))
    sse = mixture.point_sse(y, torch.tensor([[1.75, 0.0, 1.0]]), 2)
    torch.testing.assert_close(sse, torch.tensor([1.0 + 0.25]))


def test_samples_follow_the_mixture_and_bias_sharpens_it() -> None:
    y = torch.zeros(20000, mixture.output_size(1))
    y[:, 2], y[:, 3] = 1.0, -2.0  # mu
    y[:, 4], y[:, 5] = math.log(0.5), math.log(2.0)  # sigma
    y[:, 6] = math.atanh(0.8)
    generator = torch.Generator().manual_seed(0)
    points = mixture.sample(y, 1, generator=generator)
    xy = points[:, :2].double().numpy()
    np.testing.assert_allclose(xy.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(xy.std(axis=0), [0.5, 2.0], rtol=0.03)
    assert np.corrcoef(xy.T)[0, 1] == pytest.approx(0.8, abs=0.02)
    assert points[:, 2].mean().item() == pytest.approx(0.5, abs=0.02)  # e_hat 0
    biased = mixture.sample(y, 1, bias=1.0, generator=generator)[:, :2].double().numpy()
    np.testing.assert_allclose(biased.std(axis=0), np.array([0.5, 2.0]) / math.e, rtol=0.03)


def test_bias_sharpens_mixture_weights() -> None:
    y = torch.zeros(40000, mixture.output_size(2))
    y[:, 1:3] = torch.tensor([0.0, 1.0])
    y[:, 3:5] = torch.tensor([-100.0, 100.0])
    generator = torch.Generator().manual_seed(1)
    plain = (mixture.sample(y, 2, generator=generator)[:, 0] > 0).float().mean().item()
    sharp = (mixture.sample(y, 2, bias=2.0, generator=generator)[:, 0] > 0).float().mean().item()
    assert plain == pytest.approx(1 / (1 + math.exp(-1)), abs=0.01)
    assert sharp == pytest.approx(1 / (1 + math.exp(-3)), abs=0.01)
