"""Graves' RMSProp variant (Graves 2013, eqs 38-41), and the choice of optimiser.

Per weight, with gradient e:
  n = decay * n + (1 - decay) * e^2                    (eq 38)
  g = decay * g + (1 - decay) * e                      (eq 39)
  delta = momentum * delta - lr * e / sqrt(n - g^2 + eps)   (eq 40)
  w = w + delta                                        (eq 41)
with decay 0.95, momentum 0.9, lr 1e-4 and eps 1e-4 in the paper. Unlike `torch.optim.RMSprop`
(centered) the epsilon is inside the square root, and the learning rate inside the momentum.

`--optimizer sgd` is `torch.optim.SGD` with momentum (the text networks' protocol, section 3);
`--optimizer adam` is `torch.optim.Adam`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer

from graves_data.models.config import TrainConfig


class GravesRMSprop(Optimizer):
    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-4,
        momentum: float = 0.9,
        decay: float = 0.95,
        eps: float = 1e-4,
    ) -> None:
        if lr <= 0 or eps <= 0 or not 0 <= momentum < 1 or not 0 <= decay < 1:
            raise ValueError("lr > 0, eps > 0, 0 <= momentum < 1 and 0 <= decay < 1 required")
        super().__init__(params, dict(lr=lr, momentum=momentum, decay=decay, eps=eps))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad, group)
        return loss

    def _update(self, param: torch.Tensor, grad: torch.Tensor, group: dict[str, float]) -> None:
        state = self.state[param]
        if not state:
            state["n"] = torch.zeros_like(param)
            state["g"] = torch.zeros_like(param)
            state["delta"] = torch.zeros_like(param)
        n, g, delta = state["n"], state["g"], state["delta"]
        decay = group["decay"]
        n.mul_(decay).addcmul_(grad, grad, value=1.0 - decay)
        g.mul_(decay).add_(grad, alpha=1.0 - decay)
        denominator = (n - g.square()).add_(group["eps"]).sqrt_()
        delta.mul_(group["momentum"]).addcdiv_(grad, denominator, value=-group["lr"])
        param.add_(delta)


def build_optimizer(params: Iterable[torch.nn.Parameter], config: TrainConfig) -> Optimizer:
    if config.optimizer == "rmsprop":
        return GravesRMSprop(
            params,
            lr=config.learning_rate(),
            momentum=config.momentum,
            decay=config.decay,
            eps=config.eps,
        )
    if config.optimizer == "sgd":
        # v = momentum * v + e; w = w - lr * v: with a constant learning rate the same steps as
        # the paper's delta = momentum * delta - lr * e; w = w + delta
        return torch.optim.SGD(params, lr=config.learning_rate(), momentum=config.momentum)
    return torch.optim.Adam(params, lr=config.learning_rate())
