"""LSTM layers as the paper stacks them, with its derivative clipping.

`SkipLSTM` is the stack of Graves (2013) Figure 1 (eqs 1-5): every layer reads the network
input (and optionally extra inputs, the synthesis window) besides the layer below; every layer's
output goes to the output layer. Each `LSTMLayer` keeps its weights in an `nn.LSTM` and runs in
one of these ways with the same weights:
- `nn.LSTM` over the whole sequence (cuDNN on a GPU) when the layer has no peephole weights and
  the paper's derivative clipping is off;
- fused (`impl = "fused"`, the default) otherwise: `fused.lstm_sequence`, a hand-written
  backward through time that clamps the derivative of the loss w.r.t. the gate pre-activations
  (the inputs of the sigmoids and tanh) to [-bound, bound] as it forms them;
- stepped (`impl = "stepped"`, the test oracle): one autograd step at a time, a hook clamping
  those derivatives as they pass.
`set_impl` picks the way of every layer of a model. The fused stack runs time-major inside (each
step one contiguous block) and takes no copies of its layers' outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from graves_data.models.fused import lstm_sequence

State = tuple[torch.Tensor, torch.Tensor]
Impl = Literal["fused", "stepped"]
IMPLS: tuple[Impl, ...] = ("fused", "stepped")


@dataclass(frozen=True)
class Clip:
    """Derivative clipping bounds for one forward pass; None: no clipping there.

    The trainer's loss is a mean over the batch's sequences, so it passes the paper's bounds
    divided by the batch size: that clips each sequence's own derivatives at the paper's bounds.
    """

    lstm: float | None = None
    output: float | None = None


def clamp_grad(tensor: torch.Tensor, bound: float | None) -> None:
    """Clamp the gradient flowing back into `tensor` to [-bound, bound] (a tensor hook)."""
    if bound is not None and tensor.requires_grad:
        tensor.register_hook(_clamp(bound))  # type: ignore[no-untyped-call]


def _clamp(bound: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def hook(grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(-bound, bound)

    return hook


def zero_state(batch: int, hidden: int, like: torch.Tensor) -> State:
    zeros = torch.zeros(batch, hidden, dtype=like.dtype, device=like.device)
    return zeros, zeros.clone()


class LSTMLayer(nn.Module):
    """One LSTM layer (gate order i, f, g, o as in `nn.LSTM`), optionally with peepholes."""

    def __init__(self, input_size: int, hidden: int, peepholes: bool = False) -> None:
        super().__init__()
        self.input_size, self.hidden = input_size, hidden
        self.lstm = nn.LSTM(input_size, hidden, batch_first=True)
        # peephole weights w_ci, w_cf, w_co of eqs 7-9 (diagonal: one per cell)
        self.peephole = nn.Parameter(torch.zeros(3, hidden)) if peepholes else None
        self.impl: Impl = "fused"

    def uses_nn_lstm(self, clip: float | None) -> bool:
        """Whether `nn.LSTM` computes this layer: no peepholes and no derivative clipping."""
        return self.peephole is None and clip is None

    def forward(
        self, x: torch.Tensor, state: State | None = None, clip: float | None = None
    ) -> tuple[torch.Tensor, State]:
        """(B, T, I) inputs -> (B, T, H) outputs and the final (h, c)."""
        if state is None:
            state = zero_state(x.shape[0], self.hidden, x)
        if self.uses_nn_lstm(clip):
            return self.nn_lstm(x, state)
        if self.impl == "stepped":
            return self.stepped(self.project(x), state, clip)
        out, state = self.sequence([x.transpose(0, 1)], state, clip)
        return out.transpose(0, 1), state

    def nn_lstm(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """(B, T, I) -> (B, T, H) by `nn.LSTM` (cuDNN on a GPU)."""
        h0, c0 = state
        out, (h, c) = self.lstm(x, (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous()))
        return out, (h[0], c[0])

    def sequence(
        self, parts: Sequence[torch.Tensor], state: State, clip: float | None
    ) -> tuple[torch.Tensor, State]:
        """The fused recurrence over (T, B, I_j) time-major inputs whose widths add up to the
        layer's input size (the network input and the layer below's outputs, which the fused
        stack keeps as they are, uncopied and unconcatenated) -> (T, B, H)."""
        return lstm_sequence(
            parts, self.weight_ih, self.bias, state, self.weight_hh, self.peephole, clip
        )

    def _weight(self, name: str) -> torch.Tensor:
        value = getattr(self.lstm, name)
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"nn.LSTM has no tensor {name}")
        return value

    @property
    def weight_ih(self) -> torch.Tensor:
        """(4H, I) input weights, gates i, f, g, o."""
        return self._weight("weight_ih_l0")

    @property
    def weight_hh(self) -> torch.Tensor:
        """(4H, H) recurrent weights."""
        return self._weight("weight_hh_l0")

    @property
    def bias(self) -> torch.Tensor:
        """(4H,) the sum of nn.LSTM's two biases."""
        return self._weight("bias_ih_l0") + self._weight("bias_hh_l0")

    def project(self, x: torch.Tensor, columns: slice | None = None) -> torch.Tensor:
        """The input part of the pre-activations, W_i x + b, for all steps at once.

        `columns` selects part of the input weights (the synthesis layer projects its pen input
        and its window separately)."""
        weight = self.weight_ih if columns is None else self.weight_ih[:, columns]
        return F.linear(x, weight, self.bias)

    def stepped(
        self, projected: torch.Tensor, state: State, clip: float | None
    ) -> tuple[torch.Tensor, State]:
        outputs = []
        # unbind, not projected[:, t]: each slice's backward would write a gradient the size
        # of the whole sequence, quadratic in its length
        for step in projected.unbind(1):
            state = self.cell(step, state, clip)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state

    def cell(self, projected: torch.Tensor, state: State, clip: float | None) -> State:
        """One step from the input part of the pre-activations: eqs 7-11."""
        h, c = state
        gates = projected + F.linear(h, self.weight_hh)
        if self.peephole is None:
            clamp_grad(gates, clip)
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        i, f, g, o = gates.chunk(4, dim=1)
        i = i + self.peephole[0] * c
        f = f + self.peephole[1] * c
        for pre in (i, f, g):
            clamp_grad(pre, clip)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        o = o + self.peephole[2] * c
        clamp_grad(o, clip)
        return torch.sigmoid(o) * torch.tanh(c), c


class SkipLSTM(nn.Module):
    """Stacked LSTM with skip connections: input -> every layer, every layer -> output.

    Layer 1 reads [x, below] (`below`: an optional extra per-step input of size `below_size`);
    layer n > 1 reads [x, h^(n-1)]. Returns all layers' outputs concatenated, (B, T, N * H).
    """

    def __init__(
        self,
        input_size: int,
        hidden: int,
        layers: int,
        below_size: int = 0,
        peepholes: bool = False,
    ) -> None:
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError("an LSTM stack needs at least one layer of at least one cell")
        self.hidden = hidden
        self.layers = nn.ModuleList(
            LSTMLayer(input_size + (below_size if n == 0 else hidden), hidden, peepholes)
            for n in range(layers)
        )

    def forward(
        self,
        x: torch.Tensor,
        state: list[State] | None = None,
        below: torch.Tensor | None = None,
        clip: float | None = None,
    ) -> tuple[torch.Tensor, list[State]]:
        if self.time_major(clip):
            below_tm = None if below is None else below.transpose(0, 1)
            outputs, states = self.run(x.transpose(0, 1), state, below_tm, clip)
            return torch.cat(outputs, dim=-1).transpose(0, 1), states
        return self.stepped(x, state, below, clip)

    def time_major(self, clip: float | None) -> bool:
        """Whether `run` (the fused path) computes this stack."""
        layer = self.layers[0]
        return (
            isinstance(layer, LSTMLayer) and layer.impl == "fused" and not layer.uses_nn_lstm(clip)
        )

    def stepped(
        self,
        x: torch.Tensor,
        state: list[State] | None,
        below: torch.Tensor | None,
        clip: float | None,
    ) -> tuple[torch.Tensor, list[State]]:
        """Batch-first, each layer by its `forward` (nn.LSTM or the stepped oracle)."""
        states: list[State | None] = list(state) if state is not None else [None] * len(self.layers)
        outputs: list[torch.Tensor] = []
        new_states: list[State] = []
        for n, layer in enumerate(self.layers):
            previous = below if n == 0 else outputs[-1]
            layer_input = x if previous is None else torch.cat([x, previous], dim=-1)
            out, layer_state = layer(layer_input, states[n], clip)
            outputs.append(out)
            new_states.append(layer_state)
        return torch.cat(outputs, dim=-1), new_states

    def run(
        self,
        x: torch.Tensor,
        state: list[State] | None,
        below: torch.Tensor | None,
        clip: float | None,
    ) -> tuple[list[torch.Tensor], list[State]]:
        """The fused path, time-major: (T, B, I) -> each layer's (T, B, H) outputs, uncopied."""
        outputs: list[torch.Tensor] = []
        new_states: list[State] = []
        for n, layer in enumerate(self.layers):
            if not isinstance(layer, LSTMLayer):
                raise TypeError("SkipLSTM holds LSTMLayer modules")
            previous = below if n == 0 else outputs[-1]
            parts = [x] if previous is None else [x, previous]
            layer_state = state[n] if state else zero_state(x.shape[1], self.hidden, x)
            out, layer_state = layer.sequence(parts, layer_state, clip)
            outputs.append(out)
            new_states.append(layer_state)
        return outputs, new_states


def skip_output(head: nn.Linear, outputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """The output layer over the layers' outputs without concatenating them: sum_n W_n h^n + b,
    time-major, (T, B, H) each -> (T, B, O)."""
    start = outputs[0].shape[-1]
    y = F.linear(outputs[0], head.weight[:, :start], head.bias)
    for out in outputs[1:]:
        weight = head.weight[:, start : start + out.shape[-1]]
        y = torch.addmm(y.flatten(0, -2), out.flatten(0, -2), weight.t()).view(y.shape)
        start += out.shape[-1]
    return y


def set_impl(model: nn.Module, impl: Impl) -> None:
    """Run every LSTM layer of `model` the given way: "fused" or "stepped" (the oracle)."""
    if impl not in IMPLS:
        raise ValueError(f"unknown LSTM implementation {impl!r} (expected one of {IMPLS})")
    for module in model.modules():
        if isinstance(module, LSTMLayer):
            module.impl = impl
