"""Weight noise: fixed-deviation Gaussian noise, and Graves' (2011) adaptive weight noise.

The network's own parameters stay what evaluation and sampling use: with adaptive noise they are
the posterior means. A noisy forward pass runs the same module with sampled weights in their
place (`torch.func.functional_call`), so it works whatever the LSTM's implementation, as long as
the module reads its weights from its parameters.

Fixed (`--weight-noise STD`): every weight w is replaced by w + STD * eps, eps ~ N(0, 1), drawn
once per batch (every sequence of a batch sees the same weights); the gradient of the loss at
the noisy weights updates w.

Adaptive (`--weight-noise adaptive`, Graves 2011, "Practical variational inference for neural
networks", sections 5 and 7): each weight i has a diagonal Gaussian posterior Q = N(mu_i,
sigma_i^2), mu_i the network's parameter, sigma_i = exp(log_sigma_i) a parameter of this module.
The prior P = N(mu_p, sigma_p^2) is one Gaussian over all the network's weights (biases
included), set to its optimum given Q:
    mu_p = mean_i mu_i,    sigma_p^2 = mean_i (sigma_i^2 + (mu_i - mu_p)^2),
and the complexity cost is the KL divergence of Q from P,
    L_C = sum_i [ ln(sigma_p / sigma_i) + (sigma_i^2 + (mu_i - mu_p)^2) / (2 sigma_p^2) - 1/2 ].
The loss minimised is the minimum-description-length loss: the batch's mean negative
log-likelihood per sequence (its expectation under Q estimated with one sample of the weights
per batch, w = mu + sigma * eps, the reparameterisation estimator; eps from a random stream of
the run's seed and the step, so a resumed run draws what an uninterrupted one would) plus L_C
divided among the training split's sequences, L_C / N per sequence. Both mu and log_sigma are
trained by the run's optimiser, and both are in the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call


def _key(name: str) -> str:
    """A parameter name as a ParameterDict key (which may not hold dots)."""
    return name.replace(".", "__")


class AdaptiveNoise(nn.Module):
    """The posterior's log deviations, one per weight of `model`, and the MDL complexity cost."""

    def __init__(self, model: nn.Module, init_std: float) -> None:
        super().__init__()
        if not (math.isfinite(init_std) and init_std > 0):
            raise ValueError("the initial posterior deviation must be finite and positive")
        self.names = [name for name, p in model.named_parameters() if p.requires_grad]
        self.log_sigma = nn.ParameterDict(
            {
                _key(name): nn.Parameter(torch.full_like(p.detach(), math.log(init_std)))
                for name, p in model.named_parameters()
                if p.requires_grad
            }
        )

    def sigmas(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name in self.names:
            yield name, self.log_sigma[_key(name)].exp()

    def prior(self, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu_p, sigma_p^2): the prior's optimum given the posterior (differentiable)."""
        params = dict(model.named_parameters())
        mus = torch.cat([params[n].reshape(-1) for n in self.names])
        log_sigmas = [self.log_sigma[_key(n)].reshape(-1) for n in self.names]
        variances = torch.cat(log_sigmas).mul(2).exp()
        mean = mus.mean()
        return mean, (variances + (mus - mean).square()).mean()

    def complexity(self, model: nn.Module) -> torch.Tensor:
        """L_C = KL(Q || P) in nats, summed over every weight, P at its optimum."""
        params = dict(model.named_parameters())
        mu_p, var_p = self.prior(model)
        total = torch.zeros((), dtype=var_p.dtype, device=var_p.device)
        for name in self.names:
            mu, log_sigma = params[name], self.log_sigma[_key(name)]
            kl = (
                0.5 * torch.log(var_p)
                - log_sigma
                + (log_sigma.mul(2).exp() + (mu - mu_p).square()) / (2 * var_p)
                - 0.5
            )
            total = total + kl.sum()
        return total

    def sample(
        self, model: nn.Module, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Weights mu + sigma * eps, eps ~ N(0, 1) (differentiable in mu and sigma)."""
        params = dict(model.named_parameters())
        return {
            name: params[name] + sigma * _normal(sigma, generator) for name, sigma in self.sigmas()
        }


def _normal(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)


def step_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """The noise's own random stream for one training step: a function of the run's seed and
    the step alone, so that a resumed run draws the same weights as an uninterrupted one."""
    key = int(np.random.SeedSequence([seed, step, 0x6E6F]).generate_state(1, np.uint64)[0])
    return torch.Generator(device).manual_seed(key & ((1 << 63) - 1))


def fixed_sample(
    model: nn.Module, std: float, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """Weights w + std * eps for every trainable parameter (differentiable in w)."""
    return {
        name: p + std * _normal(p, generator)
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def trained_parameters(model: nn.Module, noise: AdaptiveNoise | None = None) -> list[nn.Parameter]:
    """What the optimiser trains: the network's weights, then the posterior's deviations."""
    params = list(model.parameters())
    return params if noise is None else params + list(noise.parameters())


def with_weights(model: nn.Module, weights: Mapping[str, torch.Tensor]) -> nn.Module:
    """`model` run with `weights` in place of its parameters (buffers and the rest unchanged)."""
    return Swapped(model, dict(weights))


class Swapped(nn.Module):
    """Calls `model` through `functional_call` with other weights: no copy of the model, and
    `model` is not registered as a submodule (its parameters stay its own)."""

    def __init__(self, model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.__dict__["inner"] = model
        self.__dict__["weights"] = weights

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        inner: nn.Module = self.__dict__["inner"]
        return functional_call(inner, self.__dict__["weights"], args, kwargs, strict=False)
