"""`make gpu-check`: the networks' training speed on one device, every LSTM path side by side.

For the prediction, synthesis and text networks (the paper's sizes, peephole cells) at batch 32,
128 and 512, in float32 and under bfloat16 autocast, the training step (forward, loss, backward,
Graves' RMSProp step) on each path:
- `fused`: the default, the paper's derivative clipping on the fused LSTM;
- `norm`: `--clip norm` (the fused LSTM without clipping, since the cells have peepholes);
- `cudnn`: `--clip norm` without peepholes, where `nn.LSTM` (cuDNN on a GPU) runs every layer
  but the synthesis network's first (the hardware's reference);
- `stepped`: the paper's clipping on the stepped oracle (one autograd step per point).
Each row gives points (or characters) per second, seconds per step and the peak device memory.
Then the fused layers' gradients on the device against the stepped oracle's on the CPU in
float64, with the clipping active.

Handwriting batches come from a built dataset (`--data`, the training split cut to `--points`
points a line; lines repeat where the split has fewer than the batch) or, without one, from a
small generated set; the text network reads random symbols (its speed does not depend on them).
Writes the table as JSON (`--out`) and prints it as markdown. `--tiny` is the same check at a toy
size, on any device: `make test` runs it on the CPU so that this script cannot rot.

    python -m bench.gpu_check [--device cuda] [--data DATASET] [--tiny] [--out FILE]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.common import OUT, table
from graves_data.schema import strict_json

NETWORKS = ("prediction", "synthesis", "text")
PATHS = ("fused", "norm", "cudnn", "stepped")
DTYPES = ("fp32", "bf16")
LSTM_CLIP, OUTPUT_CLIP, MAX_NORM = 10.0, 100.0, 10.0


@dataclass(frozen=True)
class Size:
    """How big the check runs."""

    hidden: int
    layers: int
    mixtures: int
    window: int
    text_hidden: int
    text_layers: int
    points: int  # points per handwriting line (the batch's T)
    chars: int  # symbols per text chunk
    batches: tuple[int, ...]
    steps: int  # timed steps per row (after one warm-up step)


PAPER = Size(400, 3, 20, 10, 1000, 1, 300, 100, (32, 128, 512), 3)
TINY = Size(8, 2, 2, 2, 8, 1, 12, 10, (2, 4), 1)


@dataclass(frozen=True)
class Row:
    network: str
    batch: int
    path: str
    dtype: str
    units: str
    units_per_s: float
    seconds_per_step: float
    peak_memory_mb: float | None


# ---------------------------------------------------------------------------------------------
# the training steps


def clip_of(path: str, batch: int) -> Any:
    """The trainer's clipping for a path: the paper's bounds per sequence, or none."""
    from graves_data.models.lstm import Clip

    if path in ("fused", "stepped"):
        return Clip(LSTM_CLIP / batch, OUTPUT_CLIP / batch)
    return Clip()


def build_network(network: str, size: Size, vocab: int, peepholes: bool) -> nn.Module:
    from graves_data.models.config import PredictionConfig, SynthesisConfig, TextConfig
    from graves_data.models.prediction import HandwritingPrediction
    from graves_data.models.synthesis import HandwritingSynthesis
    from graves_data.models.text import CharLSTM

    if network == "prediction":
        return HandwritingPrediction(
            PredictionConfig(
                hidden=size.hidden, layers=size.layers, mixtures=size.mixtures, peepholes=peepholes
            )
        )
    if network == "synthesis":
        config = SynthesisConfig(
            hidden=size.hidden,
            layers=size.layers,
            mixtures=size.mixtures,
            window=size.window,
            peepholes=peepholes,
            vocab_size=vocab,
        )
        return HandwritingSynthesis(config)
    text = TextConfig(
        hidden=size.text_hidden, layers=size.text_layers, peepholes=peepholes, vocab_size=vocab
    )
    return CharLSTM(text)


def loss_of(network: str, model: nn.Module, batch: Any, clip: Any) -> torch.Tensor:
    """The mean over the batch of each sequence's nats, as the trainer's tasks compute it."""
    from graves_data.models import mixture
    from graves_data.models.tasks import sequence_mean

    if network == "text":
        ids, targets = batch
        logits, _ = model(ids, None, clip)
        nll = nn.functional.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
        return nll.sum(dim=1).mean()
    if network == "synthesis":
        y_hat, _, _ = model(batch.inputs, batch.text, batch.text_mask, None, clip)
    else:
        y_hat, _ = model(batch.inputs, None, clip)
    nll = mixture.point_nll(y_hat.float(), batch.targets, model.config.mixtures)
    return sequence_mean(nll, batch.mask)


def make_step(
    network: str, model: nn.Module, path: str, batch: Any, amp: AbstractContextManager[Any]
) -> Callable[[], None]:
    """One training step of `model` on `batch` the way `path` trains."""
    from graves_data.models.optim import GravesRMSprop

    optimizer = GravesRMSprop(model.parameters(), lr=1e-4)
    size = (batch[0] if network == "text" else batch.inputs).shape[0]
    clip = clip_of(path, size)

    def step() -> None:
        with amp:
            loss = loss_of(network, model, batch, clip)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if path in ("norm", "cudnn"):
            nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        optimizer.step()

    return step


def prepared_model(
    network: str, path: str, size: Size, vocab: int, device: torch.device
) -> nn.Module:
    from graves_data.models.lstm import set_impl

    torch.manual_seed(0)
    model = build_network(network, size, vocab, peepholes=path != "cudnn").to(device)
    set_impl(model, "stepped" if path == "stepped" else "fused")
    return model


# ---------------------------------------------------------------------------------------------
# batches


def handwriting_batch(data: Path, batch: int, points: int, device: torch.device) -> Any:
    """`batch` lines of the training split cut to `points` points, repeated where it is short."""
    from graves_data.models.config import LoaderConfig
    from graves_data.models.data import HandwritingBatch, HandwritingStream

    stream = HandwritingStream(
        str(data), "train", batch, loader=LoaderConfig(max_points=points), shuffle=False, epochs=1
    )
    first: HandwritingBatch = next(iter(stream))
    reps = math.ceil(batch / first.inputs.shape[0])

    def tile(t: torch.Tensor) -> torch.Tensor:
        return t.repeat(reps, *([1] * (t.dim() - 1)))[:batch].to(device)

    return HandwritingBatch(*(tile(t) for t in first[:5]), (first.line_ids * reps)[:batch])


def text_batch(
    batch: int, chars: int, vocab: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (batch, chars + 1), generator=generator)
    return ids[:, :-1].to(device), ids[:, 1:].to(device)


def units_of(network: str, batch: Any) -> float:
    if network == "text":
        return float(batch[0].numel())
    return float(batch.mask.sum().item())


# ---------------------------------------------------------------------------------------------
# timing


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, dtype: str) -> AbstractContextManager[Any]:
    if dtype == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def time_row(
    network: str,
    path: str,
    dtype: str,
    batch: Any,
    size: Size,
    vocab: int,
    device: torch.device,
) -> Row:
    model = prepared_model(network, path, size, vocab, device)
    step = make_step(network, model, path, batch, autocast(device, dtype))
    step()  # warm-up
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(size.steps):
        step()
    synchronize(device)
    seconds = (time.perf_counter() - start) / size.steps
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    units = units_of(network, batch)
    return Row(
        network,
        int((batch[0] if network == "text" else batch.inputs).shape[0]),
        path,
        dtype,
        "chars" if network == "text" else "points",
        units / seconds,
        seconds,
        peak,
    )


def skip_reason(device: torch.device, path: str, dtype: str, deadline: float) -> str | None:
    if time.perf_counter() > deadline:
        return "past the time budget"
    if device.type == "cpu" and path == "cudnn" and dtype == "bf16":
        return "nn.LSTM has no bfloat16 autocast on the CPU (oneDNN refuses it)"
    return None


def rows(
    data: Path, size: Size, device: torch.device, vocab: int, deadline: float
) -> Iterator[Row | dict[str, Any]]:
    """Every row, largest work last within a network; past the deadline, a note of what was
    left out instead of the rows."""
    for network in NETWORKS:
        for batch_size in size.batches:
            if network == "text":
                batch: Any = text_batch(batch_size, size.chars, vocab, device)
            else:
                batch = handwriting_batch(data, batch_size, size.points, device)
            for dtype in DTYPES:
                for path in PATHS:
                    why = skip_reason(device, path, dtype, deadline)
                    if why:
                        yield {"network": network, "batch": batch_size, "path": path,
                               "dtype": dtype, "skipped": why}  # fmt: skip
                        continue
                    yield time_row(network, path, dtype, batch, size, vocab, device)


# ---------------------------------------------------------------------------------------------
# gradients on the device against the CPU float64 oracle


def max_grad_difference(
    build: Callable[[], nn.Module],
    loss: Callable[[nn.Module, torch.device, torch.dtype], torch.Tensor],
    device: torch.device,
) -> dict[str, float]:
    """Max abs difference of every parameter's gradient, fused on `device` (float32) against
    stepped on the CPU (float64), and the largest gradient, for scale."""
    from graves_data.models.lstm import set_impl

    grads = []
    for impl, where, dtype in (("fused", device, torch.float32), ("stepped", None, torch.float64)):
        model = build().to(where or torch.device("cpu"), dtype)
        set_impl(model, impl)
        loss(model, where or torch.device("cpu"), dtype).backward()
        grads.append({n: p.grad.double().cpu() for n, p in model.named_parameters()})
    fused, oracle = grads
    diff = max(float((fused[n] - oracle[n]).abs().max()) for n in oracle)
    scale = max(float(g.abs().max()) for g in oracle.values())
    return {"max_abs_difference": diff, "max_abs_gradient": scale, "relative": diff / scale}


def gradient_checks(device: torch.device, tiny: bool) -> dict[str, dict[str, float]]:
    from graves_data.models.config import SynthesisConfig
    from graves_data.models.lstm import LSTMLayer
    from graves_data.models.synthesis import HandwritingSynthesis

    hidden, steps, batch = (6, 7, 3) if tiny else (64, 60, 8)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(batch, steps, 5, generator=generator)
    target = torch.randn(batch, steps, hidden, generator=generator)
    text = torch.randint(1, 6, (batch, 8), generator=generator)
    text_mask = (torch.arange(8) < torch.randint(3, 9, (batch, 1), generator=generator)).float()

    def layer() -> nn.Module:
        torch.manual_seed(2)
        built = LSTMLayer(5, hidden, peepholes=True)
        with torch.no_grad():
            built.peephole.normal_(generator=torch.Generator().manual_seed(4))  # type: ignore[union-attr]
        return built

    def layer_loss(model: nn.Module, where: torch.device, dtype: torch.dtype) -> torch.Tensor:
        out, (h, c) = model(x.to(where, dtype), None, 0.05)
        return 30.0 * (out - target.to(where, dtype)).square().sum() + (h * c).sum()

    def synthesis() -> nn.Module:
        torch.manual_seed(3)
        config = SynthesisConfig(hidden=hidden, layers=3, mixtures=2, window=3, vocab_size=6)
        built = HandwritingSynthesis(replace(config, peepholes=True))
        peepholes = torch.Generator().manual_seed(5)
        with torch.no_grad():
            for module in built.modules():
                if isinstance(module, LSTMLayer) and module.peephole is not None:
                    module.peephole.normal_(generator=peepholes)
        return built

    def synthesis_loss(model: nn.Module, where: torch.device, dtype: torch.dtype) -> torch.Tensor:
        from graves_data.models.lstm import Clip

        inputs = x[..., :3].to(where, dtype)
        y_hat, _, _ = model(inputs, text.to(where), text_mask.to(where, dtype), None, Clip(0.05))
        return y_hat.square().sum()

    return {
        "lstm_layer": max_grad_difference(layer, layer_loss, device),
        "synthesis": max_grad_difference(synthesis, synthesis_loss, device),
    }


# ---------------------------------------------------------------------------------------------
# entry point


def generated_dataset(folder: Path) -> Path:
    from graves_data.synth.learnable import write_handwriting_dataset

    return write_handwriting_dataset(folder / "handwriting")


def vocab_size(data: Path) -> int:
    from graves_data.models.data import load_vocab, open_kind

    return len(load_vocab(open_kind(str(data), "handwriting")))


def check(data: Path | None, device: torch.device, tiny: bool, budget_s: float) -> dict[str, Any]:
    size = TINY if tiny else PAPER
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        dataset = data or generated_dataset(Path(scratch))
        vocab = vocab_size(dataset)
        found = list(rows(dataset, size, device, vocab, started + budget_s))
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "data": str(data) if data else "generated (graves_data.synth.learnable)",
        "size": asdict(size),
        "rows": [asdict(r) for r in found if isinstance(r, Row)],
        "skipped": [r for r in found if not isinstance(r, Row)],
        "gradients": gradient_checks(device, tiny),
    }
    result["seconds"] = time.perf_counter() - started
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Device: {result['device']}; torch {result['torch']}; data: {result['data']}; "
        f"{result['seconds']:.0f} s in all.",
        "",
    ]
    body = []
    for r in result["rows"]:
        memory = "-" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:,.0f}"
        body.append(
            [
                r["network"], str(r["batch"]), r["path"], r["dtype"],
                f"{r['units_per_s']:,.0f} {r['units']}/s", f"{r['seconds_per_step']:.3f}", memory,
            ]
        )  # fmt: skip
    header = ["network", "batch", "path", "dtype", "speed", "s/step", "peak MB"]
    lines.append(table(header, body))
    for r in result["skipped"]:
        lines.append(
            f"- skipped {r['network']} {r['batch']} {r['path']} {r['dtype']}: {r['skipped']}"
        )
    lines.append("")
    for name, g in result["gradients"].items():
        lines.append(
            f"- gradients, {name}, fused on {result['device']} (float32) vs stepped on the CPU "
            f"(float64), clipping active: max abs difference {g['max_abs_difference']:.2e} "
            f"(largest gradient {g['max_abs_gradient']:.2e})"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument(
        "--data", type=Path, help="a built handwriting dataset (default: generated)"
    )
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a check that it runs")
    parser.add_argument("--out", type=Path, default=OUT / "gpu_check.json", help="JSON results")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the timed rows")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here (use --device cpu for the CPU)")
    result = check(args.data, device, args.tiny, args.budget)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(strict_json(result, indent=2) + "\n")
    print(render(result))


if __name__ == "__main__":
    main()
