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
import errno
import io
import math
import os
import random
import time
from collections.abc import Generator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from graves_data.errors import DatasetError, DiskFull, UsageError
from graves_data.manifest import Normalization
from graves_data.models.config import (
    CHECKPOINT,
    RunConfig,
    SynthesisConfig,
    TextConfig,
    differences,
    weight_noise_spec,
)
from graves_data.models.data import (
    load_vocab,
    make_loader,
    open_kind,
    task_kind,
)
from graves_data.models.distributed import (
    Distributed,
    autocast,
    close_distributed,
    gather_states,
    init_distributed,
    resolve_device,
)
from graves_data.models.evaluate import evaluate_model
from graves_data.models.lstm import Clip, set_impl
from graves_data.models.metrics import MetricsLog, ProgressBar, Window
from graves_data.models.noise import (
    AdaptiveNoise,
    fixed_sample,
    step_generator,
    trained_parameters,
    with_weights,
)
from graves_data.models.optim import build_optimizer
from graves_data.models.tasks import Objective, Sums, make_task
from graves_data.schema import strict_json
from graves_data.shards import VOCAB
from graves_data.storage import resolve
from graves_data.vocab import Vocab

SUMMARY = "summary.json"
FORMAT = 1


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


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save under a temporary name, then one rename: the previous checkpoint stays until
    the new one is whole. Serialised in memory first, so that a full disk is Python's OSError
    (torch's own file writer reports it as a RuntimeError); nothing temporary survives a
    failure."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(buffer.getbuffer())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = "the previous checkpoint is kept" if path.exists() else "no checkpoint yet"
            raise DiskFull(
                f"{path}: disk full while saving the checkpoint ({buffer.tell():,} bytes); "
                f"{kept} and nothing temporary is left; free space and run the same command "
                "to resume"
            ) from None
        raise


# ---------------------------------------------------------------------------------------------
# the trainer


class Trainer:
    """Trains one run; `state_dict()` is the whole state, `load_state_dict()` resumes it."""

    def __init__(self, config: RunConfig, run: str | Path, info: Distributed | None = None) -> None:
        config.check()
        self.config, self.run = config, Path(run)
        self.info = info or Distributed()
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        self.task: Objective = make_task(config)
        self.device = resolve_device(config.train.device, self.info)
        self.amp = bool(
            config.train.amp and self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        torch.manual_seed(config.train.seed)
        self.model: nn.Module = self.task.build_model().to(self.device)
        set_impl(self.model, config.train.lstm_impl)
        self.wrapped: nn.Module = self.model
        if self.info.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(self.model, device_ids=ids)
        self.noise_spec = weight_noise_spec(config.train.weight_noise)
        if self.noise_spec.enabled and self.info.world > 1:
            raise UsageError("--weight-noise trains in a single process (not under torchrun)")
        self.noise = (
            AdaptiveNoise(self.model, config.train.noise_init).to(self.device)
            if self.noise_spec.kind == "adaptive"
            else None
        )
        self.optimizer = build_optimizer(trained_parameters(self.model, self.noise), config.train)
        self.step = 0
        self.carry: Any = None
        self.diverged: torch.Tensor | None = None  # set once a step's loss is not finite
        self.train_split = self.task.split("train")
        self.train_sequences = split_rows(config, self.train_split)
        self.valid_split = self.task.split("valid")
        self.content_hash = str(
            open_kind(config.data, task_kind(config.task)).manifest.get("content_hash")
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
            "noise": None if self.noise is None else self.noise.state_dict(),
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
        if self.noise is not None:
            if state.get("noise") is None:
                raise DatasetError(f"{self.run}/{CHECKPOINT}: no weight-noise posterior")
            self.noise.load_state_dict(state["noise"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        mine = state["ranks"][self.info.rank]
        set_rng_state(mine["rng"])
        self.carry = to_device(mine["carry"], self.device)

    def save(self) -> None:
        self.check_finite()
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

    def noisy_model(self) -> nn.Module:
        """The network this step runs: with weights drawn from the noise, if any."""
        if not self.noise_spec.enabled:
            return self.wrapped
        generator = step_generator(self.config.train.seed, self.step, self.device)
        if self.noise is not None:
            return with_weights(self.model, self.noise.sample(self.model, generator))
        return with_weights(self.model, fixed_sample(self.model, self.noise_spec.std, generator))

    def train_step(self, batch: Any) -> Sums:
        """One optimiser step on `batch`, run in pieces of at most `--pass-points` points
        whose losses (each its share of the batch's mean) and gradients add up to the batch's.
        """
        self.wrapped.train()
        model = self.noisy_model()
        pieces = self.task.pieces(batch, self.config.train.pass_points)
        lines = batch.mask.shape[0]
        clip = self.clip(lines)  # the whole batch's: each piece's loss is its share of it
        self.optimizer.zero_grad(set_to_none=True)
        sums: Sums = {}
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            with self._accumulating(not last):
                with autocast(self.device, self.amp):
                    loss, piece_sums, carry = self.task.forward(model, piece, self.carry, clip)
                if len(pieces) > 1:
                    loss = loss * (piece.mask.shape[0] / lines)
                if last and self.noise is not None:
                    # the MDL loss: the complexity cost divided among the training sequences
                    complexity = self.noise.complexity(self.model)
                    loss = loss + complexity / self.train_sequences
                    piece_sums["complexity"] = complexity.detach()
                    piece_sums["complexity_steps"] = torch.ones((), device=complexity.device)
                bad = ~torch.isfinite(loss.detach())
                self.diverged = bad if self.diverged is None else self.diverged | bad
                # the drawn weights' graph serves every piece's backward
                retain = not last and self.noise_spec.enabled
                torch.autograd.backward(loss, retain_graph=retain)
            for key, value in piece_sums.items():
                sums[key] = sums[key] + value if key in sums else value
        if self.config.train.clip == "norm":
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.max_norm)
        self.optimizer.step()
        self.carry = carry
        return sums

    def _accumulating(self, more: bool) -> contextlib.AbstractContextManager[Any]:
        """Under DistributedDataParallel, no gradient all-reduce until a batch's last piece."""
        if more and isinstance(self.wrapped, DistributedDataParallel):
            return self.wrapped.no_sync()
        return contextlib.nullcontext()

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

    def check_finite(self) -> None:
        """Refuse to go on (or to save) once a step's loss was NaN or infinite."""
        if self.diverged is not None and bool(self.diverged.item()):
            raise DatasetError(
                f"{self.run}: training diverged (a non-finite loss by step {self.step}); "
                f"nothing saved, {CHECKPOINT} holds the last finite checkpoint"
            )

    def _log_train(self, window: Window, log: MetricsLog) -> dict[str, float]:
        totals, elapsed = window.flush(self.info)
        self.check_finite()
        metrics = self.task.summarize(totals)
        if "complexity" in totals:
            # nats over all the weights; the MDL loss per sequence adds it / training sequences
            metrics["complexity"] = totals["complexity"] / max(totals["complexity_steps"], 1.0)
        units = totals.get(self.task.unit, 0.0)
        metrics["loss"] = totals.get("nats", 0.0) / max(totals.get("sequences", 0.0), 1.0)
        if "complexity" in metrics:
            metrics["mdl_loss"] = metrics["loss"] + metrics["complexity"] / self.train_sequences
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
            text = strict_json(summary, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
            (self.run / SUMMARY).write_text(text, encoding="utf-8")
        return summary


# ---------------------------------------------------------------------------------------------
# entry point


def split_rows(config: RunConfig, split: str) -> int:
    """Sequences (lines, or text chunks) in a split of the run's dataset."""
    dataset = open_kind(config.data, task_kind(config.task))
    return max(sum(shard.rows for shard in dataset.shards(split)), 1)


def prepare(config: RunConfig) -> RunConfig:
    """Fill in what comes from the dataset: vocabulary size and normalisation; and make a local
    dataset path absolute, so that the saved run finds its data from any working directory."""
    config = replace(config, data=resolve(config.data).url)
    kind = task_kind(config.task)
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


def from_source_run(config: RunConfig, vocab: Vocab) -> RunConfig:
    """--init-from: the source run's model and normalisation; its vocabulary must be the
    dataset's (same symbols in the same order), so its weights read the same one-hot text."""
    source = Path(str(config.train.init_from))
    saved = RunConfig.load(source)
    if saved.task != config.task or not (source / CHECKPOINT).is_file():
        raise UsageError(f"--init-from {source}: not a trained {config.task} run")
    if saved.task != "handwriting":
        theirs = Vocab.read(resolve(str(source)))
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
        dataset = open_kind(config.data, task_kind(config.task))
        (run_dir / VOCAB).write_bytes(dataset.root.join(VOCAB).read_bytes())
    if info.world > 1:
        dist.barrier()
    return trainer.fit()
