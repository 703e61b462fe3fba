"""Handwriting prediction network (Graves 2013, section 4).

A stack of LSTM layers with skip connections (input to every layer, every layer to the output;
eqs 1-5) and a mixture density output of M bivariate Gaussians plus the end-of-stroke
Bernoulli (eqs 15-26): 3 x 400 cells and M = 20, so 1 + 6 * 20 = 121 outputs, in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from graves_data.models import mixture
from graves_data.models.config import PredictionConfig
from graves_data.models.lstm import Clip, SkipLSTM, State, clamp_grad, skip_output

PredictionState = list[State]


class HandwritingPrediction(nn.Module):
    """(B, T, 3) pen offsets -> (B, T, 1 + 6M) mixture outputs for the next offset."""

    def __init__(self, config: PredictionConfig) -> None:
        super().__init__()
        self.config = config
        self.lstm = SkipLSTM(3, config.hidden, config.layers, peepholes=config.peepholes)
        self.head = nn.Linear(config.layers * config.hidden, config.outputs)

    def forward(
        self,
        x: torch.Tensor,
        state: PredictionState | None = None,
        clip: Clip | None = None,
    ) -> tuple[torch.Tensor, PredictionState]:
        clip = clip or Clip()
        if self.lstm.time_major(clip.lstm):
            outputs, state = self.lstm.run(x.transpose(0, 1), state, None, clip.lstm)
            y_hat = skip_output(self.head, outputs).transpose(0, 1)
        else:
            hidden, state = self.lstm(x, state, clip=clip.lstm)
            y_hat = self.head(hidden)
        clamp_grad(y_hat, clip.output)
        return y_hat, state

    def loss(self, y_hat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Eq 26 per step, (B, T) nats."""
        return mixture.point_nll(y_hat.float(), target, self.config.mixtures)
