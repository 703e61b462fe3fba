"""The LSTM recurrences with a hand-written backward through time: no autograd node per step.

`lstm_sequence` runs one LSTM layer (optionally with the peepholes of eqs 7-11) over a whole
sequence whose input part of the pre-activations, W_x x + b, is already computed for all steps;
`window_sequence` runs the synthesis network's layer 1 together with its soft window (eqs
46-51), since each step's window is an input of the next step. Each is one
`torch.autograd.Function`:
- forward: one recurrent matmul per step, the gate non-linearities in place in a buffer that
  is kept for the backward (the gate activations i, f, g, o and the cell states are all it
  saves);
- backward: one recurrent matmul per step (two in the window's layer), the paper's derivative
  clipping applied to the derivatives of the gate pre-activations as they are formed (exactly
  where `LSTMLayer.stepped` puts its hooks), and the weight gradients as one matmul over all
  steps.

Tensors are time-major, (T, B, ...), so that each step is one contiguous block. The recurrences
run in the input's floating type, float32 under autocast (the matmuls of the input projections
and of the output layer stay in bfloat16 there).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch.autograd.function import FunctionCtx


def _float(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def _compute_dtype(xp: torch.Tensor) -> torch.dtype:
    """The recurrence's floating type: float32 where autocast made the projections narrower."""
    return torch.float32 if xp.dtype in (torch.float16, torch.bfloat16) else xp.dtype


class Gates(NamedTuple):
    """Per-step views of a (T, B, 4H) gate buffer, made once before the loop over time (a view
    made inside the loop would cost a dispatch per step)."""

    whole: list[torch.Tensor]  # (B, 4H)
    i: list[torch.Tensor]  # (B, H) each
    f: list[torch.Tensor]
    g: list[torch.Tensor]
    o: list[torch.Tensor]
    input_forget: list[torch.Tensor]  # i and f, (B, 2H)
    sigmoid_tanh: list[torch.Tensor]  # i, f and g, (B, 3H)


def gate_views(buffer: torch.Tensor) -> Gates:
    n = buffer.shape[-1] // 4
    i, f, g, o = (list(buffer[..., j * n : (j + 1) * n].unbind(0)) for j in range(4))
    return Gates(
        list(buffer.unbind(0)),
        i,
        f,
        g,
        o,
        list(buffer[..., : 2 * n].unbind(0)),
        list(buffer[..., : 3 * n].unbind(0)),
    )


class _Cell:
    """One step of the cell, forward and backward, on preallocated (B, 4H) / (B, H) blocks."""

    def __init__(
        self, batch: int, hidden: int, like: torch.Tensor, peepholes: bool = False
    ) -> None:
        self.tanh_c = like.new_empty(batch, hidden)
        self.scratch = like.new_empty(batch, hidden)
        self.acts = gate_views(like.new_empty(1, batch, 4 * hidden))  # one step's, backward
        # the backward's per-row sums of d pre-activation x cell state, for the peepholes'
        # gradients: added up step by step while both are in cache, not in a pass over all steps
        self.peephole_sums = like.new_zeros(3, batch, hidden).unbind(0) if peepholes else None

    def forward(
        self,
        gates: Gates,
        t: int,
        c_prev: torch.Tensor,
        c_out: torch.Tensor,
        h_out: torch.Tensor,
        peephole: list[torch.Tensor] | None,
    ) -> None:
        """`gates` at step t holds the pre-activations (input and recurrent parts) and is turned
        into the activations in place; writes c_t into `c_out` and h_t into `h_out` (eqs 7-11)."""
        i, f, g, o = gates.i[t], gates.f[t], gates.g[t], gates.o[t]
        if peephole is None:
            gates.input_forget[t].sigmoid_()
            o.sigmoid_()
        else:
            i.addcmul_(c_prev, peephole[0])
            f.addcmul_(c_prev, peephole[1])
            gates.input_forget[t].sigmoid_()
        g.tanh_()
        torch.mul(f, c_prev, out=c_out)
        c_out.addcmul_(i, g)
        if peephole is not None:
            o.addcmul_(c_out, peephole[2])
            o.sigmoid_()
        torch.tanh(c_out, out=self.tanh_c)
        torch.mul(o, self.tanh_c, out=h_out)

    def backward(
        self,
        gates: Gates,
        t: int,
        c_prev: torch.Tensor,
        c_t: torch.Tensor,
        dh: torch.Tensor,
        dc: torch.Tensor,
        peephole: list[torch.Tensor] | None,
        bound: float | None,
    ) -> None:
        """From d loss / d h_t (`dh`) and d loss / d c_t through later steps (`dc`, turned in
        place into d loss / d c_{t-1}), the clipped derivatives of the pre-activations, written
        over the activations of step t in `gates` (which the backward needs no more)."""
        self.acts.whole[0].copy_(gates.whole[t])
        i, f, g, o = self.acts.i[0], self.acts.f[0], self.acts.g[0], self.acts.o[0]
        di, df, dg, do = gates.i[t], gates.f[t], gates.g[t], gates.o[t]
        tanh_c, scratch = self.tanh_c, self.scratch
        torch.tanh(c_t, out=tanh_c)
        # output gate: d o_pre = dh tanh(c) o (1 - o)
        torch.mul(dh, tanh_c, out=do)
        do.mul_(o)
        do.addcmul_(do, o, value=-1.0)
        if peephole is not None and bound is not None:
            do.clamp_(-bound, bound)  # before it reaches c_t through w_co
        # cell: dc += dh o (1 - tanh(c)^2) (+ w_co d o_pre)
        torch.mul(dh, o, out=scratch)
        dc.add_(scratch)
        scratch.mul_(tanh_c)
        dc.addcmul_(scratch, tanh_c, value=-1.0)
        if peephole is not None:
            dc.addcmul_(do, peephole[2])
        # cell input: d g_pre = dc i (1 - g^2)
        torch.mul(dc, i, out=dg)
        torch.mul(dg, g, out=scratch)
        dg.addcmul_(scratch, g, value=-1.0)
        # input gate: d i_pre = dc g i (1 - i); forget gate: d f_pre = dc c_prev f (1 - f)
        torch.mul(dc, g, out=di)
        di.mul_(i)
        di.addcmul_(di, i, value=-1.0)
        torch.mul(dc, c_prev, out=df)
        df.mul_(f)
        df.addcmul_(df, f, value=-1.0)
        if bound is not None:
            (gates.whole if peephole is None else gates.sigmoid_tanh)[t].clamp_(-bound, bound)
        if self.peephole_sums is not None:  # d w_ci, d w_cf, d w_co, before the sum over rows
            self.peephole_sums[0].addcmul_(di, c_prev)
            self.peephole_sums[1].addcmul_(df, c_prev)
            self.peephole_sums[2].addcmul_(do, c_t)
        # to the previous cell state: dc f (+ w_ci d i_pre + w_cf d f_pre)
        dc.mul_(f)
        if peephole is not None:
            dc.addcmul_(di, peephole[0])
            dc.addcmul_(df, peephole[1])

    def peephole_grads(self) -> torch.Tensor | None:
        """d w_ci, d w_cf, d w_co, (3, H): the step-by-step sums over the batch's rows."""
        sums = self.peephole_sums
        return None if sums is None else torch.stack([s.sum(0) for s in sums])


def _rows(peephole: torch.Tensor | None) -> list[torch.Tensor] | None:
    return None if peephole is None else list(peephole.unbind(0))


def _recurrent_grads(
    dgates: torch.Tensor, outputs: torch.Tensor, h0: torch.Tensor, cell: _Cell
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """d W_hh = sum_t dgates_t^T h_{t-1} over all steps at once, and the peepholes' gradients
    from the sums the backward's steps made."""
    four, n = dgates.shape[-1], h0.shape[-1]
    grad_w = dgates[0].t() @ h0
    if dgates.shape[0] > 1:
        grad_w.addmm_(dgates[1:].reshape(-1, four).t(), outputs[:-1].reshape(-1, n))
    return grad_w, cell.peephole_grads()


# steps whose input projections W_x x_t + b are formed together, just before the recurrence
# reads them (and whose derivatives, in the backward, give the input and weight gradients just
# after they are formed): a block of 16 x B rows is a good matmul and stays in cache, where a
# pass over the whole sequence would meet it again only from main memory. On CUDA there is no
# such cache to keep: one block holds every step.
CPU_BLOCK = 16


class _Projection(NamedTuple):
    """The layer's inputs, each (T, B, I_j), with their columns of the input weights."""

    parts: tuple[torch.Tensor, ...]
    weights: list[torch.Tensor]  # (4H, I_j) views of W_x

    @staticmethod
    def of(parts: tuple[torch.Tensor, ...], weight_ih: torch.Tensor) -> _Projection:
        bounds = [0]
        for part in parts:
            bounds.append(bounds[-1] + part.shape[-1])
        return _Projection(parts, [weight_ih[:, a:b] for a, b in itertools.pairwise(bounds)])

    def into(self, out: torch.Tensor, bias: torch.Tensor, start: int, stop: int) -> None:
        """W_x x_t + b for steps start..stop-1 into `out`, (stop - start, B, 4H)."""
        rows = out.view(-1, out.shape[-1])
        for j, (part, weight) in enumerate(zip(self.parts, self.weights, strict=True)):
            block = part[start:stop].reshape(-1, part.shape[-1])
            if j == 0:
                torch.addmm(bias, block, weight.t(), out=rows)
            else:
                rows.addmm_(block, weight.t())

    def backward(
        self,
        dgates: torch.Tensor,
        start: int,
        grads: list[torch.Tensor | None],
        weight_grads: list[torch.Tensor],
    ) -> None:
        """From the pre-activations' derivatives of steps start..stop-1, (stop - start, B, 4H):
        write the inputs' derivatives there into `grads` (None: not wanted) and add each part's
        share of d W_x into `weight_grads`."""
        rows = dgates.reshape(-1, dgates.shape[-1])
        stop = start + dgates.shape[0]
        for part, weight, grad, weight_grad in zip(
            self.parts, self.weights, grads, weight_grads, strict=True
        ):
            block = part[start:stop].reshape(-1, part.shape[-1])
            if grad is not None:
                torch.mm(rows, weight, out=grad[start:stop].view(-1, part.shape[-1]))
            weight_grad.addmm_(rows.t(), block)


def _blocks(steps: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(steps, a + size)) for a in range(0, steps, size)]


class _LSTMFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: FunctionCtx,
        bound: float | None,
        block: int,
        h0: torch.Tensor,
        c0: torch.Tensor,
        weight_hh: torch.Tensor,
        peephole: torch.Tensor | None,
        weight_ih: torch.Tensor,
        bias: torch.Tensor,
        *parts: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        steps, batch = parts[0].shape[:2]
        four = weight_hh.shape[0]
        n = four // 4
        gates = h0.new_empty(steps, batch, four)
        outputs = h0.new_empty(steps, batch, n)
        cells = h0.new_empty(steps, batch, n)
        cell, views, peep = _Cell(batch, n, h0), gate_views(gates), _rows(peephole)
        hs, cs = outputs.unbind(0), cells.unbind(0)
        projection = _Projection.of(parts, weight_ih)
        w_t = weight_hh.t()
        h, c = h0, c0
        for start, stop in _blocks(steps, block):
            projection.into(gates[start:stop], bias, start, stop)
            for t in range(start, stop):
                views.whole[t].addmm_(h, w_t)
                cell.forward(views, t, c, cs[t], hs[t], peep)
                h, c = hs[t], cs[t]
        ctx.save_for_backward(gates, outputs, cells, h0, c0, weight_hh, peephole, weight_ih, *parts)  # type: ignore[arg-type]
        ctx.bound, ctx.block = bound, block  # type: ignore[attr-defined]
        return outputs, cells[-1].clone()

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor, grad_c: torch.Tensor) -> Any:
        with torch.autocast(grad_out.device.type, enabled=False):
            return _LSTMFunction._backward(ctx, grad_out, grad_c)

    @staticmethod
    def _backward(ctx: Any, grad_out: torch.Tensor, grad_c: torch.Tensor) -> Any:
        gates, outputs, cells, h0, c0, weight_hh, peephole, weight_ih, *parts = ctx.saved_tensors
        bound: float | None = ctx.bound
        steps, batch, four = gates.shape
        # the derivatives overwrite the activations, step by step (autograd's version counter
        # refuses a second backward through them, as retain_graph would ask)
        dgates = gates
        cell = _Cell(batch, four // 4, gates, peephole is not None)
        grads = gate_views(dgates)
        cs, douts, peep = cells.unbind(0), grad_out.unbind(0), _rows(peephole)
        projection = _Projection.of(tuple(parts), weight_ih)
        wanted = list(ctx.needs_input_grad[8:])
        grad_parts = [
            p.new_empty(p.shape) if w else None for p, w in zip(parts, wanted, strict=True)
        ]  # contiguous, whatever the parts' strides
        grad_ih = [w.new_zeros(w.shape) for w in projection.weights]
        grad_bias = gates.new_zeros(four)
        grad_w = weight_hh.new_zeros(weight_hh.shape)
        dh = grad_out[-1].clone()
        dc = grad_c.clone()
        # block by block, back from the last: the steps' derivatives, then while they are in
        # cache what the block gives d W_x, d b, d W_h and the inputs' derivatives
        for start, stop in reversed(_blocks(steps, ctx.block)):
            for t in range(stop - 1, start - 1, -1):
                c_prev = cs[t - 1] if t else c0
                cell.backward(grads, t, c_prev, cs[t], dh, dc, peep, bound)
                if t:
                    torch.addmm(douts[t - 1], grads.whole[t], weight_hh, out=dh)
            projection.backward(dgates[start:stop], start, grad_parts, grad_ih)
            grad_bias.add_(dgates[start:stop].sum((0, 1)))
            first = max(start, 1)  # d W_h = sum_t dgates_t^T h_{t-1}, h_{-1} = h0
            if stop > first:
                rows = dgates[first:stop].reshape(-1, four)
                grad_w.addmm_(rows.t(), outputs[first - 1 : stop - 1].reshape(-1, four // 4))
        grad_w.addmm_(dgates[0].t(), h0)
        grad_h0 = dgates[0] @ weight_hh
        grad_p = cell.peephole_grads()
        grad_weight_ih = torch.cat(grad_ih, dim=1) if len(grad_ih) > 1 else grad_ih[0]
        return (
            None, None, grad_h0, dc, grad_w, grad_p, grad_weight_ih, grad_bias, *grad_parts,
        )  # fmt: skip


def lstm_sequence(
    parts: Sequence[torch.Tensor],
    weight_ih: torch.Tensor,
    bias: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    weight_hh: torch.Tensor,
    peephole: torch.Tensor | None,
    bound: float | None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """One layer over a whole sequence: its (T, B, I_j) inputs (time-major, their widths adding
    up to the columns of the (4H, I) input weights) and the (h, c) before them -> the (T, B, H)
    outputs and the final (h, c); `bound` clips the pre-activations' derivatives.

    The recurrence and the input projections run in float32 where autocast would narrow them
    (the projections are formed inside, block by block; see `CPU_BLOCK`)."""
    device = state[0].device
    dtype = _compute_dtype(state[0])
    steps = parts[0].shape[0]
    block = CPU_BLOCK if device.type == "cpu" else max(steps, 1)
    with torch.autocast(device.type, enabled=False):
        outputs, c = _LSTMFunction.apply(  # type: ignore[no-untyped-call]
            bound,
            block,
            _float(state[0], dtype),
            _float(state[1], dtype),
            _float(weight_hh, dtype),
            None if peephole is None else _float(peephole, dtype),
            _float(weight_ih, dtype),
            _float(bias, dtype),
            *(_float(part, dtype) for part in parts),
        )
    return outputs, (outputs[-1], c)


class WindowWeights(NamedTuple):
    """The parameters of the synthesis network's layer 1 and window that the recurrence reads."""

    weight_hh: torch.Tensor  # (4H, H)
    weight_window_in: torch.Tensor  # (4H, V): layer 1's weights of the previous window
    peephole: torch.Tensor | None  # (3, H)
    window_weight: torch.Tensor  # (3K, H)
    window_bias: torch.Tensor  # (3K,)


class WindowState(NamedTuple):
    h: torch.Tensor  # (B, H)
    c: torch.Tensor  # (B, H)
    window: torch.Tensor  # w_{t-1}, (B, V)
    kappa: torch.Tensor  # (B, K)


class _Window:
    """phi(t, u) of eq 46 for u = 1..U from a step's exp'd window outputs, on preallocated
    (B, K, U) blocks; `distance` keeps kappa - u and `weight` exp(-beta (kappa - u)^2)."""

    def __init__(self, batch: int, mixtures: int, positions: int, like: torch.Tensor) -> None:
        self.k = mixtures
        self.u = torch.arange(1, positions + 1, dtype=like.dtype, device=like.device)
        self.distance = like.new_empty(batch, mixtures, positions)
        self.weight = like.new_empty(batch, mixtures, positions)
        # the exponent's floor: the log of the type's smallest normal number (-87.3 in float32)
        self.floor = math.log(torch.finfo(like.dtype).tiny)

    def weights(self, exped: torch.Tensor, kappa: torch.Tensor, phi: torch.Tensor) -> None:
        """Write phi (B, U) from (alpha, beta, exp kappa_hat) (B, 3K) and kappa (B, K).

        The characters far from a mixture's kappa have exponents far below the floor: there
        exp would give subnormal numbers or zero, at 10-16 times the cost of a normal one on
        x86 CPUs (measured: 265-327 us against 20 us for 32 x 10 x 38), and those weights
        would slow what multiplies them. Clamped, they are the smallest normal number
        instead: phi changes by less than alpha x 1.2e-38."""
        k = self.k
        torch.sub(kappa.unsqueeze(-1), self.u, out=self.distance)
        torch.mul(self.distance, self.distance, out=self.weight)
        self.weight.mul_(exped[:, k : 2 * k].unsqueeze(-1)).neg_().clamp_(min=self.floor).exp_()
        torch.bmm(exped[:, :k].unsqueeze(1), self.weight, out=phi.unsqueeze(1))


class _WindowFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: FunctionCtx,
        projected: torch.Tensor,
        onehot: torch.Tensor,
        text_mask: torch.Tensor,
        keep_phi: bool,
        bound: float | None,
        h0: torch.Tensor,
        c0: torch.Tensor,
        w0: torch.Tensor,
        kappa0: torch.Tensor,
        weight_hh: torch.Tensor,
        weight_window_in: torch.Tensor,
        peephole: torch.Tensor | None,
        window_weight: torch.Tensor,
        window_bias: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        steps, batch, four = projected.shape
        n, k, (chars, vocab) = four // 4, window_weight.shape[0] // 3, onehot.shape[1:]
        positions = chars + int(keep_phi)
        gates = projected.new_empty(steps, batch, four)  # as in `_LSTMFunction.forward`
        outputs = projected.new_empty(steps, batch, n)
        cells = projected.new_empty(steps, batch, n)
        exped = projected.new_empty(steps, batch, 3 * k)
        kappas = projected.new_empty(steps, batch, k)
        windows = projected.new_empty(steps, batch, vocab)
        phis = projected.new_empty(steps if keep_phi else 1, batch, positions)
        masked = projected.new_empty(batch, chars)
        cell, window = _Cell(batch, n, projected), _Window(batch, k, positions, projected)
        views, peep, inputs = gate_views(gates), _rows(peephole), projected.unbind(0)
        hs, cs, es, ks = outputs.unbind(0), cells.unbind(0), exped.unbind(0), kappas.unbind(0)
        steps_k = exped[..., 2 * k :].unbind(0)
        ws, ws_rows = windows.unbind(0), windows.unsqueeze(2).unbind(0)
        phi_rows = phis.unbind(0)
        phi_text = phis[..., :chars].unbind(0)
        masked_row = masked.unsqueeze(1)
        w_hh_t, w_in_t, w_win_t = weight_hh.t(), weight_window_in.t(), window_weight.t()
        h, c, w, kappa = h0, c0, w0, kappa0
        for t in range(steps):
            torch.addmm(inputs[t], h, w_hh_t, out=views.whole[t]).addmm_(w, w_in_t)
            cell.forward(views, t, c, cs[t], hs[t], peep)
            h, c = hs[t], cs[t]
            torch.addmm(window_bias, h, w_win_t, out=es[t]).exp_()
            torch.add(kappa, steps_k[t], out=ks[t])
            kappa = ks[t]
            row = t if keep_phi else 0
            window.weights(es[t], kappa, phi_rows[row])
            torch.mul(phi_text[row], text_mask, out=masked)
            torch.bmm(masked_row, onehot, out=ws_rows[t])
            w = ws[t]
        ctx.save_for_backward(
            gates, outputs, cells, exped, kappas, windows, onehot, text_mask, h0, c0, w0,
            weight_hh, weight_window_in, peephole, window_weight,  # type: ignore[arg-type]
        )  # fmt: skip
        ctx.bound = bound  # type: ignore[attr-defined]
        ctx.mark_non_differentiable(phis)
        return outputs, windows, cells[-1].clone(), kappas[-1].clone(), phis

    @staticmethod
    def backward(
        ctx: Any,
        grad_out: torch.Tensor,
        grad_windows: torch.Tensor,
        grad_c: torch.Tensor,
        grad_kappa: torch.Tensor,
        _grad_phi: torch.Tensor,
    ) -> Any:
        with torch.autocast(grad_out.device.type, enabled=False):
            return _WindowFunction._backward(ctx, grad_out, grad_windows, grad_c, grad_kappa)

    @staticmethod
    def _backward(
        ctx: Any,
        grad_out: torch.Tensor,
        grad_windows: torch.Tensor,
        grad_c: torch.Tensor,
        grad_kappa: torch.Tensor,
    ) -> Any:
        (
            gates, outputs, cells, exped, kappas, windows, onehot, text_mask, h0, c0, w0,
            weight_hh, weight_window_in, peephole, window_weight,
        ) = ctx.saved_tensors  # fmt: skip
        bound: float | None = ctx.bound
        steps, batch, four = gates.shape
        k, chars = window_weight.shape[0] // 3, onehot.shape[1]
        dgates, dexped = gates, torch.empty_like(exped)  # dgates over the activations
        cell = _Cell(batch, four // 4, gates, peephole is not None)
        window = _Window(batch, k, chars, gates)
        dphi = gates.new_empty(batch, chars)
        phi = gates.new_empty(batch, chars)
        spread = gates.new_empty(batch, k, chars)
        moment = gates.new_empty(batch, k)
        dh, dw = grad_out[-1].clone(), grad_windows[-1].clone()
        dc, dkappa = grad_c.clone(), grad_kappa.clone()
        grads, peep = gate_views(dgates), _rows(peephole)
        cs, es, ks = cells.unbind(0), exped.unbind(0), kappas.unbind(0)
        douts, dwins, des = grad_out.unbind(0), grad_windows.unbind(0), dexped.unbind(0)
        alphas, betas, steps_k = (exped[..., j * k : (j + 1) * k].unbind(0) for j in range(3))
        dalphas, dbetas, dsteps = (dexped[..., j * k : (j + 1) * k].unbind(0) for j in range(3))
        dalpha_cols = dexped[..., :k].unsqueeze(-1).unbind(0)
        dphi_col, dphi_row = dphi.unsqueeze(-1), dphi.unsqueeze(1)
        ids = onehot.argmax(-1)  # each text position's character: its one-hot row's 1
        for t in range(steps - 1, -1, -1):
            alpha, beta = alphas[t], betas[t]
            # the window: phi -> (alpha, beta, kappa) -> the window layer's outputs
            window.weights(es[t], ks[t], phi)
            torch.gather(dw, 1, ids, out=dphi)  # d phi_u = d w . onehot_u = d w[c_u]
            dphi.mul_(text_mask)
            torch.bmm(window.weight, dphi_col, out=dalpha_cols[t])
            dalphas[t].mul_(alpha)  # d alpha_hat = d alpha * alpha
            torch.mul(window.weight, dphi_row, out=spread)
            spread.mul_(alpha.unsqueeze(-1)).mul_(window.distance)
            torch.sum(spread, -1, out=moment)  # sum_u alpha e (kappa - u) dphi
            dkappa.addcmul_(beta, moment, value=-2.0)
            spread.mul_(window.distance)
            torch.sum(spread, -1, out=dbetas[t])
            dbetas[t].mul_(beta).neg_()  # d beta_hat = -sum(...) beta
            torch.mul(dkappa, steps_k[t], out=dsteps[t])
            dh.addmm_(des[t], window_weight)
            # layer 1's cell
            c_prev = cs[t - 1] if t else c0
            cell.backward(grads, t, c_prev, cs[t], dh, dc, peep, bound)
            if t:
                torch.addmm(douts[t - 1], grads.whole[t], weight_hh, out=dh)
                torch.addmm(dwins[t - 1], grads.whole[t], weight_window_in, out=dw)
        grad_h0, grad_w0 = dgates[0] @ weight_hh, dgates[0] @ weight_window_in
        grad_hh, grad_p = _recurrent_grads(dgates, outputs, h0, cell)
        grad_in = dgates[0].t() @ w0
        if steps > 1:
            grad_in.addmm_(dgates[1:].reshape(-1, four).t(), windows[:-1].reshape(-1, w0.shape[1]))
        flat = dexped.reshape(-1, 3 * k)
        grad_ww = flat.t() @ outputs.reshape(-1, outputs.shape[-1])
        return (
            dgates, None, None, None, None, grad_h0, dc, grad_w0, dkappa,
            grad_hh, grad_in, grad_p, grad_ww, flat.sum(0),
        )  # fmt: skip


def window_sequence(
    projected: torch.Tensor,
    onehot: torch.Tensor,
    text_mask: torch.Tensor,
    state: WindowState,
    weights: WindowWeights,
    bound: float | None,
    keep_phi: bool,
) -> tuple[torch.Tensor, torch.Tensor, WindowState, torch.Tensor | None]:
    """The synthesis network's layer 1 and window over the whole sequence.

    (T, B, 4H) pen-input parts of layer 1's pre-activations, the (B, U, V) one-hot text and its
    (B, U) mask -> layer 1's (T, B, H) outputs, the (T, B, V) windows w_t, the final state, and
    with `keep_phi` phi as (T, B, U + 1) (not differentiable)."""
    dtype = _compute_dtype(projected)
    with torch.autocast(projected.device.type, enabled=False):
        outputs, windows, c, kappa, phis = _WindowFunction.apply(  # type: ignore[no-untyped-call]
            _float(projected, dtype),
            _float(onehot, dtype),
            _float(text_mask, dtype),
            keep_phi,
            bound,
            *(_float(t, dtype) for t in state),
            *(None if t is None else _float(t, dtype) for t in weights),
        )
    final = WindowState(outputs[-1], c, windows[-1], kappa)
    return outputs, windows, final, phis if keep_phi else None
