"""Evaluation in the paper's units: handwriting NLL in nats per sequence and SSE per point
(Tables 3-4), text in bits per character, statically or dynamically.

Dynamic evaluation (Table 1-2's "dynamic" rows): the network keeps learning on the test data as
it reads it, with the optimiser it was trained with; every chunk is scored before the update
that learns from it, so no symbol is predicted by weights that have seen it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graves_data.errors import DatasetError
from graves_data.models.config import RunConfig
from graves_data.models.data import make_loader
from graves_data.models.lstm import Clip
from graves_data.models.optim import build_optimizer
from graves_data.models.tasks import Objective, make_task

CHECKPOINT = "checkpoint.pt"


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


def dynamic_evaluation(
    loaded: LoadedRun, split: str, device: torch.device, batches: int | None = None
) -> dict[str, float]:
    """Score each batch, then learn from it (the trained optimiser state continues)."""
    config, task, model = loaded.config, loaded.task, loaded.model
    optimizer = build_optimizer(model.parameters(), config.train)
    optimizer.load_state_dict(loaded.state["optimizer"])
    model.train()
    sums: dict[str, torch.Tensor] = {}
    carry: Any = None
    stream = task.stream(split, train=False, epochs=1)
    for i, batch in enumerate(make_loader(stream, 0)):
        if batches is not None and i >= batches:
            break
        batch = batch.to(device)
        size = batch.mask.shape[0]
        clip = Clip(config.train.lstm_clip / size, config.train.output_clip / size)
        loss, step_sums, carry = task.forward(
            model, batch, carry, clip if config.train.clip == "paper" else Clip()
        )
        _accumulate(sums, step_sums)
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        if config.train.clip == "norm":
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.max_norm)
        optimizer.step()
    model.eval()
    return task.summarize(_reduce(sums, (0, 1)))


def evaluate_run(
    run: str | Path,
    split: str = "valid",
    *,
    device: str = "cpu",
    batches: int | None = None,
    dynamic: bool = False,
) -> dict[str, Any]:
    """The figures of a trained run on one split (`valid`/`train` name the run's own splits)."""
    target = torch.device(device)
    if target.type == "cuda" and not torch.cuda.is_available():
        from graves_data.errors import UsageError

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
    if dynamic:
        report["dynamic"] = dynamic_evaluation(loaded, name, target, batches)
    return report
