"""The trainer: one `state_dict` holds the whole run, so a run resumes exactly.

A run folder holds `config.json` (the `RunConfig`), `vocab.json` (a copy of the dataset's),
`checkpoint.pt` (model, optimiser, data position, RNG states and carried hidden states of every
process), `metrics.csv` (long format: step, split, name, value), `tb/` (TensorBoard) and
`summary.json`. Training an existing run folder resumes it from its checkpoint: the batches,
weights and metrics then continue exactly as if it had never stopped (on CPU, bit for bit).

Under `torchrun` (WORLD_SIZE > 1) every process trains on its own share of the data with
DistributedDataParallel (gloo on CPU, NCCL on CUDA); process 0 writes the files.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import math
import os
import random
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from graves_data.errors import DatasetError, UsageError
from graves_data.models.config import (
    RunConfig,
    SynthesisConfig,
    TextConfig,
    differences,
)
from graves_data.models.data import (
    Normalization,
    dataset_kind,
    load_vocab,
    make_loader,
    open_kind,
)
from graves_data.models.evaluate import evaluate_model
from graves_data.models.lstm import Clip
from graves_data.models.optim import build_optimizer
from graves_data.models.tasks import Sums, Task, make_task
from graves_data.shards import VOCAB
from graves_data.storage import resolve

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
TENSORBOARD = "tb"
FORMAT = 1


# ---------------------------------------------------------------------------------------------
# processes and devices


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def distributed_from_env() -> Distributed:
    """Rank and world size as torchrun sets them (a single process without torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return Distributed(rank, world, int(os.environ.get("LOCAL_RANK", str(rank))))


def init_distributed(device: str) -> tuple[Distributed, bool]:
    """Join the process group torchrun set up; (info, whether this call created the group)."""
    info = distributed_from_env()
    if info.world == 1 or dist.is_initialized():
        return info, False
    if device == "cuda":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return info, True


def close_distributed() -> None:
    """Leave the process group together (gloo aborts a process that leaves alone).

    The DistributedDataParallel wrapper and its reducer hold the gloo group; left to the
    interpreter's shutdown they are destroyed after Python is gone, and a busy machine then sees
    "terminate called without an active exception" (SIGABRT) in a process that had finished.
    Collecting them first makes the group's last owner this call.
    """
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


def resolve_device(name: str, info: Distributed) -> torch.device:
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here")
        return torch.device("cuda", info.local_rank)
    return torch.device("cpu")


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA (no loss scaling needed, so derivative clipping is exact)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def all_reduce_sums(sums: dict[str, torch.Tensor], info: Distributed) -> dict[str, float]:
    if info.world == 1 or not sums:
        return {k: float(v.item()) for k, v in sums.items()}
    names = sorted(sums)
    packed = torch.stack([sums[k].double() for k in names])
    if packed.device.type != "cpu" and dist.get_backend() == "gloo":
        packed = packed.cpu()
    dist.all_reduce(packed)
    return {k: float(v) for k, v in zip(names, packed.tolist(), strict=True)}


# ---------------------------------------------------------------------------------------------
# RNG and state


def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(np.asarray(keys).copy()), pos, has_gauss, gauss],
        "python": random.getstate(),
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy(), pos, has_gauss, gauss))
    random.setstate(state["python"])


def to_device(value: Any, device: torch.device) -> Any:
    """Tensors inside lists, tuples and NamedTuples moved to `device`."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(to_device(v, device) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    return value


def gather_states(mine: Any, world: int) -> list[Any]:
    """Every process's `mine`, in rank order (sent as torch.save bytes: tensors inside plain
    pickles do not survive all_gather_object)."""
    buffer = io.BytesIO()
    torch.save(mine, buffer)
    blobs: list[Any] = [None] * world
    dist.all_gather_object(blobs, buffer.getvalue())
    return [torch.load(io.BytesIO(blob), weights_only=True) for blob in blobs]


def save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# metrics


class MetricsLog:
    """metrics.csv (step, split, name, value) and TensorBoard scalars, on process 0 only."""

    FIELDS = ("step", "split", "name", "value")

    def __init__(self, run: Path, enabled: bool, tensorboard: bool, resume_step: int) -> None:
        self.enabled = enabled
        self.path = run / METRICS
        self.writer: Any = None
        if not enabled:
            return
        self._keep_rows_until(resume_step)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(
                str(run / TENSORBOARD), purge_step=resume_step + 1 if resume_step else None
            )

    def _keep_rows_until(self, step: int) -> None:
        """Start the CSV afresh, or keep the rows a resumed run had written up to its checkpoint."""
        rows: list[dict[str, str]] = []
        if step and self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for name, value in metrics.items():
                writer.writerow([step, split, name, repr(float(value))])
        if self.writer is not None:
            for name, value in metrics.items():
                self.writer.add_scalar(f"{split}/{name}", float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(run: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.csv, values as floats."""
    with (Path(run) / METRICS).open(newline="", encoding="utf-8") as handle:
        return [
            {
                "step": int(r["step"]),
                "split": r["split"],
                "name": r["name"],
                "value": float(r["value"]),
            }
            for r in csv.DictReader(handle)
        ]


class Window:
    """Sums of the steps since the last log line, kept on the device until read."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.started = time.perf_counter()

    def add(self, sums: Sums) -> None:
        for name, value in sums.items():
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()

    def flush(self, info: Distributed) -> tuple[dict[str, float], float]:
        totals = all_reduce_sums(self.sums, info)
        elapsed = time.perf_counter() - self.started
        self.sums, self.started = {}, time.perf_counter()
        return totals, elapsed


class ProgressBar:
    """A rich progress bar with the loss and the throughput."""

    def __init__(self, total: int, done: int, unit: str, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} " + unit + "/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not enabled,
        )
        self.loss = self.rate = "-"
        self.task = self.progress.add_task("train", total=total, completed=done, loss="-", rate="-")

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, loss: float | None = None, rate: float | None = None) -> None:
        if loss is not None:
            self.loss = f"{loss:.3f}"
        if rate is not None:
            self.rate = f"{rate:,.0f}"
        self.progress.update(self.task, advance=1, loss=self.loss, rate=self.rate)


# ---------------------------------------------------------------------------------------------
# the trainer


class Trainer:
    """Trains one run; `state_dict()` is the whole state, `load_state_dict()` resumes it."""

    def __init__(self, config: RunConfig, run: str | Path, info: Distributed | None = None) -> None:
        config.train.check()
        config.loader.check()
        self.config, self.run = config, Path(run)
        self.info = info or Distributed()
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        self.task: Task = make_task(config)
        self.device = resolve_device(config.train.device, self.info)
        self.amp = bool(
            config.train.amp and self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        torch.manual_seed(config.train.seed)
        self.model: nn.Module = self.task.build_model().to(self.device)
        self.wrapped: nn.Module = self.model
        if self.info.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = build_optimizer(self.model.parameters(), config.train)
        self.step = 0
        self.carry: Any = None
        self.train_split = self.task.split("train")
        self.valid_split = self.task.split("valid")
        self.content_hash = str(
            open_kind(config.data, dataset_kind(config.task)).manifest.get("content_hash")
        )

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Model, optimiser, data position, and every process's RNG and carried state."""
        mine = {"rng": rng_state(), "carry": to_device(self.carry, torch.device("cpu"))}
        ranks: list[Any] = [mine]
        if self.info.world > 1:
            ranks = gather_states(mine, self.info.world)
        return {
            "format": FORMAT,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "data": {
                "split": self.train_split,
                "batches": self.step,
                "world": self.info.world,
                "content_hash": self.content_hash,
            },
            "ranks": ranks,
            "config": self.config.to_json(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != FORMAT:
            raise DatasetError(f"{self.run}/{CHECKPOINT}: unknown checkpoint format")
        data = state["data"]
        if data["world"] != self.info.world:
            raise UsageError(
                f"{self.run}: trained by {data['world']} processes; resume it with as many "
                f"(each one's share of the data depends on it), not {self.info.world}"
            )
        if data["content_hash"] != self.content_hash:
            raise UsageError(
                f"{self.run}: the dataset {self.config.data} is not the one this run was "
                "trained on (its content hash differs); start a new --run"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        mine = state["ranks"][self.info.rank]
        set_rng_state(mine["rng"])
        self.carry = to_device(mine["carry"], self.device)

    def save(self) -> None:
        state = self.state_dict()
        if self.info.main:
            save_atomic(state, self.run / CHECKPOINT)

    def resume(self) -> bool:
        """Load the run folder's checkpoint if there is one."""
        path = self.run / CHECKPOINT
        if not path.exists():
            return False
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return True

    # -- training ----------------------------------------------------------------------------

    def total_steps(self) -> int:
        train = self.config.train
        if train.steps is not None:
            return train.steps
        per_epoch = self.task.batches_per_epoch(self.train_split, self.info.world)
        return math.ceil((train.epochs or 1.0) * per_epoch)

    def clip(self, batch_size: int) -> Clip:
        """The paper's bounds per sequence: the loss is a mean over the batch's sequences."""
        train = self.config.train
        if train.clip != "paper":
            return Clip()
        return Clip(train.lstm_clip / batch_size, train.output_clip / batch_size)

    def train_step(self, batch: Any) -> Sums:
        self.wrapped.train()
        with autocast(self.device, self.amp):
            loss, sums, carry = self.task.forward(
                self.wrapped, batch, self.carry, self.clip(batch.mask.shape[0])
            )
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        if self.config.train.clip == "norm":
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.max_norm)
        self.optimizer.step()
        self.carry = carry
        return sums

    def batches(self) -> Generator[Any, None, None]:
        """This process's training batches from the current data position on."""
        stream = self.task.stream(
            self.train_split,
            train=True,
            rank=self.info.rank,
            world=self.info.world,
            start_batch=self.step,
        )
        loader = make_loader(stream, self.config.train.workers, self.device.type == "cuda")
        for batch in loader:
            yield batch.to(self.device)

    def validate(self, log: MetricsLog) -> dict[str, float]:
        metrics = evaluate_model(
            self.task,
            self.model,
            self.valid_split,
            self.device,
            batches=self.config.train.eval_batches,
            info=(self.info.rank, self.info.world),
            amp=self.amp,
        )
        log.write(self.step, "valid", metrics)
        return metrics

    def fit(self) -> dict[str, Any]:
        """Train up to the configured steps (or epochs, or time); return the summary."""
        train = self.config.train
        total = self.total_steps()
        start_step, started = self.step, time.perf_counter()
        deadline = None if train.max_minutes is None else started + 60.0 * train.max_minutes
        log = MetricsLog(self.run, self.info.main, train.tensorboard, self.step)
        window, last_train = Window(), {}
        enabled = train.progress and self.info.main
        batches = self.batches()
        try:
            with ProgressBar(total, self.step, self.task.unit, enabled) as bar:
                while self.step < total and not self._time_is_up(deadline):
                    window.add(self.train_step(next(batches)))
                    self.step += 1
                    loss = rate = None
                    if self.step % train.log_every == 0 or self.step == total:
                        last_train = self._log_train(window, log)
                        loss, rate = last_train["loss"], last_train[f"{self.task.unit}_per_s"]
                    bar.advance(loss, rate)
                    if train.eval_every and self.step % train.eval_every == 0:
                        self.validate(log)
                    if self.step % train.checkpoint_every == 0:
                        self.save()
            self.save()
            valid = self.validate(log)
        finally:
            batches.close()
            log.close()
        return self._summary(start_step, started, last_train, valid)

    def _log_train(self, window: Window, log: MetricsLog) -> dict[str, float]:
        totals, elapsed = window.flush(self.info)
        metrics = self.task.summarize(totals)
        units = totals.get(self.task.unit, 0.0)
        metrics["loss"] = totals.get("nats", 0.0) / max(totals.get("sequences", 0.0), 1.0)
        metrics[f"{self.task.unit}_per_s"] = units / max(elapsed, 1e-9)
        metrics["lr"] = float(self.optimizer.param_groups[0]["lr"])
        log.write(self.step, "train", metrics)
        return metrics

    def _time_is_up(self, deadline: float | None) -> bool:
        if deadline is None:
            return False
        up = torch.tensor(float(time.perf_counter() >= deadline))
        if self.info.world > 1:
            dist.broadcast(up, src=0)
        return bool(up.item())

    def _summary(
        self,
        start_step: int,
        started: float,
        train: Mapping[str, float],
        valid: Mapping[str, float],
    ) -> dict[str, Any]:
        summary = {
            "task": self.config.task,
            "step": self.step,
            "steps_this_session": self.step - start_step,
            "seconds_this_session": time.perf_counter() - started,
            "train_split": self.train_split,
            "valid_split": self.valid_split,
            "train": dict(train),
            "valid": dict(valid),
        }
        if self.info.main:
            text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
            (self.run / SUMMARY).write_text(text, encoding="utf-8")
        return summary


# ---------------------------------------------------------------------------------------------
# entry point


def prepare(config: RunConfig) -> RunConfig:
    """Fill in what comes from the dataset: vocabulary size and normalisation; and make a local
    dataset path absolute, so that the saved run finds its data from any working directory."""
    config = replace(config, data=resolve(config.data).url)
    kind = dataset_kind(config.task)
    dataset = open_kind(config.data, kind)
    if config.train.init_from:
        config = from_source_run(config, load_vocab(dataset))
    model = config.model
    if isinstance(model, (SynthesisConfig, TextConfig)):
        size = len(load_vocab(dataset))
        if model.vocab_size not in (0, size):
            raise UsageError(f"model vocab_size {model.vocab_size} != dataset vocabulary {size}")
        model = replace(model, vocab_size=size)
    norm = config.normalization
    if kind == "handwriting" and norm is None:
        norm = Normalization.from_manifest(dataset.manifest).as_pair()
    return replace(config, model=model, normalization=norm)


def from_source_run(config: RunConfig, vocab: Any) -> RunConfig:
    """--init-from: the source run's model and normalisation; its vocabulary must be the
    dataset's (same symbols in the same order), so its weights read the same one-hot text."""
    from graves_data.vocab import Vocab

    source = Path(str(config.train.init_from))
    saved = RunConfig.load(source)
    if saved.task != config.task or not (source / CHECKPOINT).is_file():
        raise UsageError(f"--init-from {source}: not a trained {config.task} run")
    if saved.task != "handwriting":
        theirs = Vocab.from_json(json.loads((source / VOCAB).read_bytes()))
        if theirs.symbols != vocab.symbols:
            raise UsageError(
                f"--init-from {source}: the dataset's vocabulary is not the run's; build the "
                f"dataset with --vocab {source / VOCAB}"
            )
    train = replace(config.train, init_from=str(source.resolve()))
    return replace(config, model=saved.model, normalization=saved.normalization, train=train)


def train(config: RunConfig, run: str | Path) -> dict[str, Any]:
    """Train (or resume) the run in folder `run`; return the summary (see Trainer.fit).

    An existing run folder with a checkpoint is resumed; its saved configuration must match
    `config` except for runtime fields (steps, epochs, device, workers, logging...).
    """
    info, created = init_distributed(config.train.device)
    try:
        summary = _train(config, Path(run), info)
    except BaseException:
        if created:  # torchrun stops the other processes; no barrier to wait at
            dist.destroy_process_group()
        raise
    if created:
        close_distributed()
    return summary


def _train(config: RunConfig, run_dir: Path, info: Distributed) -> dict[str, Any]:
    config = prepare(config)
    if (run_dir / CHECKPOINT).exists():
        found = differences(RunConfig.load(run_dir), config)
        if found:
            raise UsageError(f"{run_dir} holds a run with other settings: " + "; ".join(found))
    trainer = Trainer(config, run_dir, info)
    if not trainer.resume() and config.train.init_from:
        source = Path(config.train.init_from) / CHECKPOINT
        trainer.model.load_state_dict(
            torch.load(source, map_location="cpu", weights_only=True)["model"]
        )
    if info.main:
        config.save(run_dir)
        dataset = open_kind(config.data, dataset_kind(config.task))
        (run_dir / VOCAB).write_bytes(dataset.root.join(VOCAB).read_bytes())
    if info.world > 1:
        dist.barrier()
    return trainer.fit()
