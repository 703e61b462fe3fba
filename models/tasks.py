"""What differs between the three networks, behind one interface the trainer and the evaluator
use: the model, the batches, the loss and its units.

Losses are in the paper's units. Each batch gives sums (nats, squared error, points or symbols,
sequences); `summarize` turns sums into the reported figures: handwriting NLL in nats per
sequence (and per point) and SSE per point (Tables 3-4), text in bits per character. The
training loss is the mean over the batch of the per-sequence nats.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import IterableDataset

from graves_data.manifest import Normalization
from graves_data.models import mixture
from graves_data.models.config import (
    PredictionConfig,
    RunConfig,
    SynthesisConfig,
    TextConfig,
)
from graves_data.models.data import (
    TRAIN_SPLITS,
    VALID_SPLITS,
    HandwritingBatch,
    HandwritingStream,
    TextBatch,
    TextStream,
    default_split,
    open_kind,
)
from graves_data.models.lstm import Clip
from graves_data.models.prediction import HandwritingPrediction
from graves_data.models.synthesis import HandwritingSynthesis
from graves_data.models.text import CharLSTM, detach_states
from graves_data.shards import Dataset

Sums = dict[str, torch.Tensor]


class Objective(Protocol):
    """What the trainer needs of a task (`config.Task` names it): model, data streams, loss."""

    config: RunConfig
    unit: str  # what throughput counts: "points" or "chars"

    def build_model(self) -> nn.Module: ...

    def split(self, which: str) -> str: ...

    def stream(
        self,
        split: str,
        *,
        train: bool,
        rank: int = 0,
        world: int = 1,
        start_batch: int = 0,
        epochs: int | None = None,
    ) -> IterableDataset[Any]: ...

    def batches_per_epoch(self, split: str, world: int) -> int: ...

    def forward(
        self, model: nn.Module, batch: Any, carry: Any, clip: Clip
    ) -> tuple[torch.Tensor, Sums, Any]: ...

    def pieces(self, batch: Any, points: int) -> list[Any]:
        """`batch` as the parts one training step runs one after another (`--pass-points`)."""
        ...

    def summarize(self, sums: dict[str, float]) -> dict[str, float]: ...


def make_task(config: RunConfig) -> Objective:
    if config.task == "text":
        return TextTask(config)
    return HandwritingTask(config)


def pick_split(dataset: Dataset, which: str, train: str | None, valid: str | None) -> str:
    """`train` / `valid` name the run's own splits (as configured, or the usual names); any
    other name is a split of the dataset."""
    if which == "train":
        return default_split(dataset, train, TRAIN_SPLITS)
    return default_split(dataset, valid if which == "valid" else which, VALID_SPLITS)


def sequence_mean(per_step: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of each sequence's summed nats."""
    return (per_step * mask).sum(dim=1).mean()


class HandwritingTask:
    """The prediction network (task "handwriting") and the synthesis network ("synthesis")."""

    unit = "points"

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.normalization = Normalization.of(config.normalization)

    def build_model(self) -> nn.Module:
        model = self.config.model
        if isinstance(model, SynthesisConfig):
            return HandwritingSynthesis(model)
        if isinstance(model, PredictionConfig):
            return HandwritingPrediction(model)
        raise TypeError(f"not a handwriting model config: {type(model).__name__}")

    @property
    def mixtures(self) -> int:
        model = self.config.model
        if isinstance(model, TextConfig):
            raise TypeError("the text network has no mixture output")
        return model.mixtures

    def split(self, which: str) -> str:
        dataset = open_kind(self.config.data, "handwriting")
        train = self.config.train
        return pick_split(dataset, which, train.train_split, train.valid_split)

    def stream(
        self,
        split: str,
        *,
        train: bool,
        rank: int = 0,
        world: int = 1,
        start_batch: int = 0,
        epochs: int | None = None,
    ) -> HandwritingStream:
        return HandwritingStream(
            self.config.data,
            split,
            self.config.train.batch_size,
            loader=self.config.loader,
            shuffle=self.config.loader.shuffle and train,
            seed=self.config.train.seed,
            rank=rank,
            world=world,
            start_batch=start_batch,
            epochs=epochs,
            normalization=self.normalization,
        )

    def batches_per_epoch(self, split: str, world: int) -> int:
        return self.stream(split, train=True, world=world).batches_per_epoch()

    def forward(
        self, model: nn.Module, batch: HandwritingBatch, carry: Any, clip: Clip
    ) -> tuple[torch.Tensor, Sums, Any]:
        if isinstance(self.config.model, SynthesisConfig):
            y_hat, _, _ = model(batch.inputs, batch.text, batch.text_mask, None, clip)
        else:
            y_hat, _ = model(batch.inputs, None, clip)
        y_hat = y_hat.float()
        nll = mixture.point_nll(y_hat, batch.targets, self.mixtures)
        with torch.no_grad():
            sse = mixture.point_sse(y_hat.detach(), batch.targets, self.mixtures)
            sums = {
                "nats": (nll.detach() * batch.mask).sum(),
                "sse": (sse * batch.mask).sum(),
                "points": batch.mask.sum(),
                "sequences": torch.tensor(float(batch.mask.shape[0]), device=batch.mask.device),
            }
        return sequence_mean(nll, batch.mask), sums, None

    def pieces(self, batch: HandwritingBatch, points: int) -> list[HandwritingBatch]:
        return batch.pieces(points)

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        points, sequences = max(sums.get("points", 0.0), 1.0), max(sums.get("sequences", 0.0), 1.0)
        return {
            "nll_per_sequence": sums.get("nats", 0.0) / sequences,
            "nll_per_point": sums.get("nats", 0.0) / points,
            "sse_per_point": sums.get("sse", 0.0) / points,
            "sequences": sums.get("sequences", 0.0),
            "points": sums.get("points", 0.0),
        }


class TextTask:
    """The character-level network, trained on contiguous chunks with the state carried over."""

    unit = "chars"

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def build_model(self) -> nn.Module:
        if not isinstance(self.config.model, TextConfig):
            raise TypeError(f"not a text model config: {type(self.config.model).__name__}")
        return CharLSTM(self.config.model)

    def split(self, which: str) -> str:
        dataset = open_kind(self.config.data, "text")
        train = self.config.train
        return pick_split(dataset, which, train.train_split, train.valid_split)

    def stream(
        self,
        split: str,
        *,
        train: bool,
        rank: int = 0,
        world: int = 1,
        start_batch: int = 0,
        epochs: int | None = None,
    ) -> TextStream:
        return TextStream(
            self.config.data,
            split,
            self.config.train.batch_size,
            rank=rank,
            world=world,
            start_batch=start_batch,
            epochs=epochs,
        )

    def batches_per_epoch(self, split: str, world: int) -> int:
        return self.stream(split, train=True, world=world).batches_per_epoch()

    def forward(
        self, model: nn.Module, batch: TextBatch, carry: Any, clip: Clip
    ) -> tuple[torch.Tensor, Sums, Any]:
        state = None if bool(batch.reset) else carry
        logits, state = model(batch.inputs, state, clip)
        nll = torch.nn.functional.cross_entropy(
            logits.float().transpose(1, 2), batch.targets, reduction="none"
        )
        with torch.no_grad():
            sums = {
                "nats": (nll.detach() * batch.mask).sum(),
                "chars": batch.mask.sum(),
                "sequences": torch.tensor(float(batch.mask.shape[0]), device=batch.mask.device),
            }
        return sequence_mean(nll, batch.mask), sums, detach_states(state)

    def pieces(self, batch: TextBatch, points: int) -> list[TextBatch]:
        """One: a text batch is already a fixed chunk of each row, and its rows carry state."""
        return [batch]

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        chars = max(sums.get("chars", 0.0), 1.0)
        return {
            "bits_per_char": sums.get("nats", 0.0) / chars / math.log(2.0),
            "nll_per_char": sums.get("nats", 0.0) / chars,
            "chars": sums.get("chars", 0.0),
        }
