"""The mixture density output of the handwriting networks (Graves 2013, eqs 17-26).

A network output vector y_hat of size 1 + 6M is laid out as
`[e_hat, pi_hat (M), mu1 (M), mu2 (M), sigma1_hat (M), sigma2_hat (M), rho_hat (M)]` and read as
  e = 1 / (1 + exp(e_hat))        (eq 18: the end-of-stroke probability)
  pi = softmax(pi_hat)            (eq 19)
  sigma = exp(sigma_hat)          (eq 21)
  rho = tanh(rho_hat)             (eq 22)
The loss of a target x = (x1, x2, x3) is eq 26:
  -log sum_j pi_j N(x1, x2 | mu_j, sigma_j, rho_j) - (log e if x3 = 1 else log(1 - e)),
computed in log space. Two clamps keep it finite where the density has no bound: sigma_hat
>= LOG_SIGMA_MIN and |rho_hat| <= RHO_HAT_MAX; they never act at ordinary parameters, and beyond
them the gradient of that parameter is zero rather than inf or nan.

Sampling takes the paper's bias b (eqs 61-62): sigma = exp(sigma_hat - b),
pi = softmax(pi_hat * (1 + b)).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

LOG_SIGMA_MIN = -10.0
RHO_HAT_MAX = 10.0
LOG_2PI = math.log(2.0 * math.pi)
LOG_2 = math.log(2.0)


class Mixture(NamedTuple):
    """Mixture parameters before their output functions, each (..., M) but eos (...)."""

    eos_hat: torch.Tensor
    pi_hat: torch.Tensor
    mu1: torch.Tensor
    mu2: torch.Tensor
    sigma1_hat: torch.Tensor
    sigma2_hat: torch.Tensor
    rho_hat: torch.Tensor


def output_size(mixtures: int) -> int:
    return 1 + 6 * mixtures


def split(y_hat: torch.Tensor, mixtures: int) -> Mixture:
    """Cut a (..., 1 + 6M) output into its named parts."""
    if y_hat.shape[-1] != output_size(mixtures):
        raise ValueError(f"expected {output_size(mixtures)} outputs, got {y_hat.shape[-1]}")
    parts = torch.split(y_hat, [1] + [mixtures] * 6, dim=-1)
    return Mixture(parts[0].squeeze(-1), *parts[1:])


def log_one_minus_rho2(rho_hat: torch.Tensor) -> torch.Tensor:
    """log(1 - tanh(r)^2) = 2 log sech(r), without cancellation for large |r|."""
    a = rho_hat.abs()
    return 2.0 * (LOG_2 - a - F.softplus(-2.0 * a))


def log_density(mix: Mixture, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """log N(x1, x2 | mu_j, sigma_j, rho_j) of each component, (..., M) (eqs 24-25)."""
    ls1 = mix.sigma1_hat.clamp(min=LOG_SIGMA_MIN)
    ls2 = mix.sigma2_hat.clamp(min=LOG_SIGMA_MIN)
    rho_hat = mix.rho_hat.clamp(-RHO_HAT_MAX, RHO_HAT_MAX)
    rho = torch.tanh(rho_hat)
    log_1m = log_one_minus_rho2(rho_hat)
    z1 = (x1.unsqueeze(-1) - mix.mu1) * torch.exp(-ls1)
    z2 = (x2.unsqueeze(-1) - mix.mu2) * torch.exp(-ls2)
    # Z / (1 - rho^2) of eq 25, written so that it stays >= 0 and avoids cancellation
    quad = (z1 - rho * z2).square() * torch.exp(-log_1m) + z2.square()
    return -LOG_2PI - ls1 - ls2 - 0.5 * log_1m - 0.5 * quad


def point_nll(y_hat: torch.Tensor, target: torch.Tensor, mixtures: int) -> torch.Tensor:
    """Eq 26 at every step: (..., 1 + 6M) outputs and (..., 3) targets -> (...) nats."""
    mix = split(y_hat, mixtures)
    log_pi = F.log_softmax(mix.pi_hat, dim=-1)
    log_mix = torch.logsumexp(log_pi + log_density(mix, target[..., 0], target[..., 1]), dim=-1)
    eos = target[..., 2]
    # -log e = softplus(e_hat) and -log(1 - e) = softplus(-e_hat), for e = sigmoid(-e_hat)
    eos_nll = eos * F.softplus(mix.eos_hat) + (1.0 - eos) * F.softplus(-mix.eos_hat)
    return -log_mix + eos_nll


def expected(y_hat: torch.Tensor, mixtures: int) -> torch.Tensor:
    """The mixture's mean offset and the end-of-stroke probability, (..., 3)."""
    mix = split(y_hat, mixtures)
    pi = F.softmax(mix.pi_hat, dim=-1)
    e = torch.sigmoid(-mix.eos_hat)
    return torch.stack([(pi * mix.mu1).sum(-1), (pi * mix.mu2).sum(-1), e], dim=-1)


def point_sse(y_hat: torch.Tensor, target: torch.Tensor, mixtures: int) -> torch.Tensor:
    """Squared error of the expected next point (dx, dy, end_of_stroke), summed over the three
    coordinates: the SSE column of the paper's Tables 3-4, per step, in normalised units."""
    return (expected(y_hat, mixtures) - target).square().sum(-1)


def sample(
    y_hat: torch.Tensor, mixtures: int, bias: float = 0.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One point (dx, dy, end_of_stroke) per row of (B, 1 + 6M) outputs, with bias b."""
    mix = split(y_hat.float(), mixtures)
    pi = F.softmax(mix.pi_hat * (1.0 + bias), dim=-1)
    j = torch.multinomial(pi, 1, generator=generator)
    mu1, mu2 = mix.mu1.gather(-1, j).squeeze(-1), mix.mu2.gather(-1, j).squeeze(-1)
    s1 = torch.exp(mix.sigma1_hat.gather(-1, j).squeeze(-1).clamp(min=LOG_SIGMA_MIN) - bias)
    s2 = torch.exp(mix.sigma2_hat.gather(-1, j).squeeze(-1).clamp(min=LOG_SIGMA_MIN) - bias)
    rho = torch.tanh(mix.rho_hat.gather(-1, j).squeeze(-1))
    n1 = torch.randn(mu1.shape, generator=generator, device=mu1.device)
    n2 = torch.randn(mu1.shape, generator=generator, device=mu1.device)
    x1 = mu1 + s1 * n1
    x2 = mu2 + s2 * (rho * n1 + torch.sqrt((1.0 - rho.square()).clamp(min=0.0)) * n2)
    e = torch.sigmoid(-mix.eos_hat)
    eos = (torch.rand(e.shape, generator=generator, device=e.device) < e).float()
    return torch.stack([x1, x2, eos], dim=-1)
