"""Evaluation in the paper's units: handwriting NLL in nats per sequence and SSE per point
(Tables 3-4), text in bits per character, statically or dynamically.

Dynamic evaluation (Table 1-2's "dynamic" rows): the network keeps learning on the test data as
it reads it, with the optimiser it was trained with; every chunk is scored before the update
that learns from it, so no symbol is predicted by weights that have seen it. `sequential` (the
paper's) reads the split as one stream in order; `parallel` reads it as the training batch
size of streams side by side. A run trained with weight noise is evaluated (and sampled) with
its posterior means: the network's own parameters.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from graves_data.errors import DatasetError, UsageError
from graves_data.models.config import CHECKPOINT, RunConfig
from graves_data.models.data import make_loader
from graves_data.models.lstm import Clip
from graves_data.models.noise import AdaptiveNoise, trained_parameters
from graves_data.models.optim import build_optimizer
from graves_data.models.tasks import Objective, make_task


@dataclass
class LoadedRun:
    config: RunConfig
    task: Objective
    model: nn.Module
    state: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.state["step"])


def load_run(run: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """A trained run's configuration, task and model (with its checkpoint's weights)."""
    folder = Path(run)
    config = RunConfig.load(folder)
    path = folder / CHECKPOINT
    if not path.is_file():
        raise DatasetError(f"{folder}: no {CHECKPOINT} (has this run trained a step yet?)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    task = make_task(config)
    model = task.build_model()
    model.load_state_dict(state["model"])
    return LoadedRun(config, task, model.to(device).eval(), state)


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager[Any]:
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _reduce(sums: dict[str, torch.Tensor], info: tuple[int, int]) -> dict[str, float]:
    if info[1] == 1:
        return {k: float(v.item()) for k, v in sums.items()}
    import torch.distributed as dist

    names = sorted(sums)
    packed = torch.stack([sums[k].double().cpu() for k in names])
    dist.all_reduce(packed)
    return {k: float(v) for k, v in zip(names, packed.tolist(), strict=True)}


def _accumulate(total: dict[str, torch.Tensor], sums: dict[str, torch.Tensor]) -> None:
    for name, value in sums.items():
        total[name] = total[name] + value if name in total else value.clone()


@torch.no_grad()
def evaluate_model(
    task: Objective,
    model: nn.Module,
    split: str,
    device: torch.device,
    *,
    batches: int | None = None,
    info: tuple[int, int] = (0, 1),
    amp: bool = False,
) -> dict[str, float]:
    """One pass over `split` (this process's share of it; sums are reduced over processes)."""
    was_training = model.training
    model.eval()
    stream = task.stream(split, train=False, rank=info[0], world=info[1], epochs=1)
    sums: dict[str, torch.Tensor] = {}
    carry: Any = None
    for i, batch in enumerate(make_loader(stream, 0)):
        if batches is not None and i >= batches:
            break
        with _autocast(device, amp):
            _, step_sums, carry = task.forward(model, batch.to(device), carry, Clip())
        _accumulate(sums, step_sums)
    model.train(was_training)
    reduced = _reduce({task.unit: torch.zeros(()), **sums}, info)
    if not reduced[task.unit]:
        # a mean over nothing would read NLL 0.0 / 0 bits per character: a perfect model
        raise DatasetError(
            f"split {split!r} holds no {task.unit} to score (an empty split): no metric over "
            "nothing; evaluate on another split"
        )
    return task.summarize(reduced)


DYNAMIC_MODES = ("sequential", "parallel")


def check_dynamic(mode: str, lr: float | None) -> None:
    """UsageError for an unknown dynamic-evaluation mode or a learning rate not finite and > 0."""
    if mode not in DYNAMIC_MODES:
        raise UsageError(f"--dynamic must be one of {', '.join(DYNAMIC_MODES)}, not {mode!r}")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--dynamic-lr must be a finite number > 0, not {lr!r}")


def _dynamic_optimizer(loaded: LoadedRun, lr: float | None) -> Optimizer:
    """The run's optimiser with its trained state, at the dynamic learning rate if given.

    A run trained with adaptive weight noise keeps its posterior's deviations in the optimiser's
    state; they are rebuilt here so that the state loads, and stay fixed (no gradient reaches
    them: dynamic evaluation adapts the posterior means the network holds)."""
    noise = None
    if loaded.state.get("noise") is not None:
        noise = AdaptiveNoise(loaded.model, 1.0)
        noise.load_state_dict(loaded.state["noise"])
    optimizer = build_optimizer(trained_parameters(loaded.model, noise), loaded.config.train)
    optimizer.load_state_dict(loaded.state["optimizer"])
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    return optimizer


def dynamic_evaluation(
    loaded: LoadedRun,
    split: str,
    device: torch.device,
    batches: int | None = None,
    *,
    mode: str = "sequential",
    lr: float | None = None,
) -> dict[str, float]:
    """Score each chunk, then learn from it, in one pass over `split`.

    sequential (the paper's): one stream through the split in order, one chunk (a text chunk,
    or a handwriting line) at a time; parallel: the training batch size of streams side by side
    (each part of the split then gets batch-size times fewer updates). Either way every chunk is
    scored by weights that have not seen it, and the trained optimiser state continues, at the
    learning rate `lr` (default: the run's)."""
    check_dynamic(mode, lr)
    config, model = loaded.config, loaded.model
    if mode == "sequential":
        config = replace(config, train=replace(config.train, batch_size=1))
    task = make_task(config)
    optimizer = _dynamic_optimizer(loaded, lr)
    model.train()
    sums: dict[str, torch.Tensor] = {}
    carry: Any = None
    stream = task.stream(split, train=False, epochs=1)
    for i, batch in enumerate(make_loader(stream, 0)):
        if batches is not None and i >= batches:
            break
        batch = batch.to(device)
        loss, step_sums, carry = task.forward(model, batch, carry, _clip(config, batch))
        _accumulate(sums, step_sums)
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        if config.train.clip == "norm":
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.max_norm)
        optimizer.step()
    model.eval()
    return task.summarize(_reduce(sums, (0, 1)))


def _clip(config: RunConfig, batch: Any) -> Clip:
    if config.train.clip != "paper":
        return Clip()
    size = batch.mask.shape[0]
    return Clip(config.train.lstm_clip / size, config.train.output_clip / size)


def evaluate_run(
    run: str | Path,
    split: str = "valid",
    *,
    device: str = "cpu",
    batches: int | None = None,
    dynamic: str | None = None,
    dynamic_lr: float | None = None,
) -> dict[str, Any]:
    """The figures of a trained run on one split (`valid`/`train` name the run's own splits)."""
    if dynamic is not None:
        check_dynamic(dynamic, dynamic_lr)
    target = torch.device(device)
    if target.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here")
    loaded = load_run(run, target)
    name = loaded.task.split(split)
    report: dict[str, Any] = {
        "run": str(run),
        "task": loaded.config.task,
        "step": loaded.step,
        "split": name,
        **evaluate_model(loaded.task, loaded.model, name, target, batches=batches),
    }
    if dynamic is not None:
        report["dynamic"] = dynamic_evaluation(
            loaded, name, target, batches, mode=dynamic, lr=dynamic_lr
        )
        report["dynamic_mode"] = dynamic
    return report
