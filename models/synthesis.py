"""Handwriting synthesis network (Graves 2013, section 5): the prediction network conditioned
on the text through a soft window.

Layer 1 reads the pen input and the previous window w_{t-1}; its output h^1_t sets the window
parameters (eqs 48-51):
  (alpha_hat, beta_hat, kappa_hat) = W h^1_t + b        (3K values)
  alpha = exp(alpha_hat), beta = exp(beta_hat), kappa_t = kappa_{t-1} + exp(kappa_hat)
  phi(t, u) = sum_k alpha_k exp(-beta_k (kappa_k - u)^2)      for u = 1..U
  w_t = sum_u phi(t, u) c_u      (c_u the one-hot of the u-th character)
Layers 2..N read the pen input, w_t and the layer below; all layers feed the mixture output.
Sampling stops at the end of the text by the paper's heuristic: when phi(t, U + 1) exceeds
phi(t, u) for every character u.

With the fused LSTM (the default), layer 1 and the window run as one `fused.window_sequence`
(a hand-written backward through time), then layers 2..N and the output over the whole
sequence at once; with `impl = "stepped"` (the test oracle) layer 1 and the window go step by
step through autograd.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from graves_data.models import mixture
from graves_data.models.config import SynthesisConfig
from graves_data.models.fused import WindowState, WindowWeights, window_sequence
from graves_data.models.lstm import (
    Clip,
    LSTMLayer,
    SkipLSTM,
    State,
    clamp_grad,
    skip_output,
    zero_state,
)


class SynthesisState(NamedTuple):
    first: State  # layer 1 (h, c)
    window: torch.Tensor  # w_{t-1}, (B, V)
    kappa: torch.Tensor  # window positions, (B, K)
    rest: list[State]  # layers 2..N

    def detach(self) -> SynthesisState:
        return SynthesisState(
            (self.first[0].detach(), self.first[1].detach()),
            self.window.detach(),
            self.kappa.detach(),
            [(h.detach(), c.detach()) for h, c in self.rest],
        )


def window_weights(
    alpha: torch.Tensor, beta: torch.Tensor, kappa: torch.Tensor, positions: int
) -> torch.Tensor:
    """phi(t, u) for u = 1..positions (eq 46): (B, K) parameters -> (B, positions)."""
    u = torch.arange(1, positions + 1, dtype=kappa.dtype, device=kappa.device)
    distance = (kappa.unsqueeze(-1) - u).square()
    return (alpha.unsqueeze(-1) * torch.exp(-beta.unsqueeze(-1) * distance)).sum(dim=1)


def window_params(
    raw: torch.Tensor, kappa_prev: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(alpha, beta, kappa) from the window layer's (B, 3K) output (eqs 48-51)."""
    alpha_hat, beta_hat, kappa_hat = raw.chunk(3, dim=-1)
    return torch.exp(alpha_hat), torch.exp(beta_hat), kappa_prev + torch.exp(kappa_hat)


class HandwritingSynthesis(nn.Module):
    """(B, T, 3) pen offsets and (B, U) character ids -> (B, T, 1 + 6M) mixture outputs."""

    def __init__(self, config: SynthesisConfig) -> None:
        super().__init__()
        if config.vocab_size < 1:
            raise ValueError("the synthesis network needs the vocabulary size")
        self.config = config
        size, hidden = config.vocab_size, config.hidden
        self.first = LSTMLayer(3 + size, hidden, config.peepholes)
        self.window = nn.Linear(hidden, 3 * config.window)
        with torch.no_grad():
            self.window.bias[2 * config.window :].fill_(config.kappa_bias)
        self.rest = (
            SkipLSTM(
                3 + size, hidden, config.layers - 1, below_size=hidden, peepholes=config.peepholes
            )
            if config.layers > 1
            else None
        )
        self.head = nn.Linear(config.layers * hidden, config.outputs)

    def initial_state(self, batch: int, like: torch.Tensor) -> SynthesisState:
        zeros = torch.zeros(batch, self.config.vocab_size, dtype=like.dtype, device=like.device)
        kappa = torch.zeros(batch, self.config.window, dtype=like.dtype, device=like.device)
        return SynthesisState(zero_state(batch, self.config.hidden, like), zeros, kappa, [])

    def forward(
        self,
        x: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        state: SynthesisState | None = None,
        clip: Clip | None = None,
        keep_phi: bool = False,
    ) -> tuple[torch.Tensor, SynthesisState, torch.Tensor | None]:
        """Mixture outputs, the final state, and (with keep_phi) phi as (B, T, U + 1): the
        window weights of every character and, last, of the position after the text (the stop
        heuristic's phi(t, U + 1)), before masking."""
        clip = clip or Clip()
        state = state or self.initial_state(x.shape[0], x)
        if self.first.impl == "fused":
            return self._fused(x, text, text_mask, state, clip, keep_phi)
        onehot = F.one_hot(text, self.config.vocab_size).to(x.dtype)
        h1, windows, first, w, kappa, phi = self._first_layer(
            x, onehot, text_mask.to(x.dtype), state, clip.lstm, keep_phi
        )
        parts, rest_state = [h1], []
        if self.rest is not None:
            hidden, rest_state = self.rest(
                torch.cat([x, windows], dim=-1), state.rest or None, below=h1, clip=clip.lstm
            )
            parts.append(hidden)
        y_hat = self.head(torch.cat(parts, dim=-1))
        clamp_grad(y_hat, clip.output)
        return y_hat, SynthesisState(first, w, kappa, rest_state), phi

    def _fused(
        self,
        x: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        state: SynthesisState,
        clip: Clip,
        keep_phi: bool,
    ) -> tuple[torch.Tensor, SynthesisState, torch.Tensor | None]:
        """`forward` on the fused path, time-major inside."""
        x_tm = x.transpose(0, 1)
        weights = WindowWeights(
            self.first.weight_hh,
            self.first.weight_ih[:, 3:],
            self.first.peephole,
            self.window.weight,
            self.window.bias,
        )
        h1, windows, first, phi = window_sequence(
            self.first.project(x_tm, slice(0, 3)),
            F.one_hot(text, self.config.vocab_size).to(x.dtype),
            text_mask.to(x.dtype),
            WindowState(state.first[0], state.first[1], state.window, state.kappa),
            weights,
            clip.lstm,
            keep_phi,
        )
        outputs, rest_state = [h1], list[State]()
        if self.rest is not None:
            inputs = torch.cat([x_tm, windows], dim=-1)
            if self.rest.time_major(clip.lstm):
                rest, rest_state = self.rest.run(inputs, state.rest or None, h1, clip.lstm)
                outputs.extend(rest)
            else:  # nn.LSTM (no peepholes, no clipping): batch-first
                hidden, rest_state = self.rest(
                    inputs.transpose(0, 1), state.rest or None, h1.transpose(0, 1), None
                )
                outputs.append(hidden.transpose(0, 1))
        y_hat = skip_output(self.head, outputs).transpose(0, 1)
        clamp_grad(y_hat, clip.output)
        final = SynthesisState((first.h, first.c), first.window, first.kappa, rest_state)
        return y_hat, final, None if phi is None else phi.transpose(0, 1)

    def _first_layer(
        self,
        x: torch.Tensor,
        onehot: torch.Tensor,
        text_mask: torch.Tensor,
        state: SynthesisState,
        clip: float | None,
        keep_phi: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, State, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Layer 1 and the window, step by step (each step needs the window before it)."""
        projected = self.first.project(x, slice(0, 3))
        window_weight = self.first.weight_ih[:, 3:]
        cell, w, kappa = state.first, state.window, state.kappa
        hs, ws, phis = [], [], []
        for step in projected.unbind(1):  # (not projected[:, t]: see LSTMLayer.stepped)
            cell = self.first.cell(step + F.linear(w, window_weight), cell, clip)
            alpha, beta, kappa = window_params(self.window(cell[0]), kappa)
            phi = window_weights(alpha, beta, kappa, onehot.shape[1] + int(keep_phi))
            w = torch.bmm((phi[:, : onehot.shape[1]] * text_mask).unsqueeze(1), onehot).squeeze(1)
            hs.append(cell[0])
            ws.append(w)
            if keep_phi:
                phis.append(phi)
        phi_all = torch.stack(phis, dim=1) if keep_phi else None
        return torch.stack(hs, 1), torch.stack(ws, 1), cell, w, kappa, phi_all

    def loss(self, y_hat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Eq 26 per step, (B, T) nats."""
        return mixture.point_nll(y_hat.float(), target, self.config.mixtures)
