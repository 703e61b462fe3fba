"""Dataclass configs of a training run, saved as `config.json` in the run folder.

torch-free on purpose: the CLI builds its options from these fields (type, default,
`metadata["help"]`) without importing torch, and a run's configuration can be read anywhere.

A run is one `RunConfig`: the task (`handwriting` = the prediction network of section 4,
`synthesis` = section 5, `text` = section 3), the dataset it reads, and the model, training and
loader configs. Fields marked `cli=False` are filled in from the dataset (vocabulary size,
normalisation), never typed by a user.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graves_data.errors import DatasetError, UsageError
from graves_data.schema import strict_json

Task = Literal["handwriting", "synthesis", "text"]
TASKS: tuple[Task, ...] = ("handwriting", "synthesis", "text")
CONFIG_FILE = "config.json"


def option(default: Any, help: str, cli: bool = True) -> Any:
    """A config field with its CLI help text; `cli=False` keeps it off the command line."""
    return dataclasses.field(default=default, metadata={"help": help, "cli": cli})


@dataclass(frozen=True)
class PredictionConfig:
    """Handwriting prediction network (Graves 2013, section 4, eqs 15-26)."""

    hidden: int = option(400, "LSTM cells per hidden layer")
    layers: int = option(3, "hidden layers (skip connections input->each, each->output)")
    mixtures: int = option(20, "bivariate Gaussians in the output mixture")
    peepholes: bool = option(False, "LSTM peephole weights, as in the paper's eqs 7-11")

    @property
    def outputs(self) -> int:
        """End-of-stroke logit plus 6 parameters per mixture component (121 for 20)."""
        return 1 + 6 * self.mixtures


@dataclass(frozen=True)
class SynthesisConfig:
    """Handwriting synthesis network (section 5, eqs 46-51): a soft window over the text."""

    hidden: int = option(400, "LSTM cells per hidden layer")
    layers: int = option(3, "hidden layers")
    mixtures: int = option(20, "bivariate Gaussians in the output mixture")
    window: int = option(10, "Gaussians in the soft window over the text (K)")
    peepholes: bool = option(False, "LSTM peephole weights, as in the paper's eqs 7-11")
    kappa_bias: float = option(
        -3.0, "initial bias of the window's log kappa increment (exp(-3) ~ 1/20 char per point)"
    )
    vocab_size: int = option(0, "characters in the one-hot text (from vocab.json)", cli=False)

    @property
    def outputs(self) -> int:
        return 1 + 6 * self.mixtures


@dataclass(frozen=True)
class TextConfig:
    """Character-level LSTM (section 3): PTB 1 x 1000, enwik8 7 x 700 in the paper."""

    hidden: int = option(1000, "LSTM cells per hidden layer (paper: PTB 1000, enwik8 700)")
    layers: int = option(1, "hidden layers (paper: PTB 1, enwik8 7)")
    peepholes: bool = option(False, "LSTM peephole weights, as in the paper's eqs 7-11")
    vocab_size: int = option(0, "symbols (from vocab.json)", cli=False)


ModelConfig = PredictionConfig | SynthesisConfig | TextConfig
MODEL_CONFIGS: dict[Task, type[Any]] = {
    "handwriting": PredictionConfig,
    "synthesis": SynthesisConfig,
    "text": TextConfig,
}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, clipping, length of training, logging and hardware."""

    steps: int | None = option(None, "train until this many steps in all (with --epochs: error)")
    epochs: float | None = option(
        None, "train this many passes over the training split (default 1 when no --steps)"
    )
    max_minutes: float | None = option(
        None, "also stop (with a checkpoint) after this much wall time"
    )
    batch_size: int = option(32, "sequences per step on each process")
    optimizer: Literal["rmsprop", "adam"] = option(
        "rmsprop", "rmsprop: Graves' variant (eqs 38-41); adam: torch.optim.Adam"
    )
    lr: float | None = option(None, "learning rate (default 1e-4 for rmsprop, 1e-3 for adam)")
    momentum: float = option(0.9, "rmsprop momentum (the paper's 0.9)")
    decay: float = option(0.95, "rmsprop decay of the gradient averages (the paper's 0.95)")
    eps: float = option(1e-4, "rmsprop epsilon, inside the square root (the paper's 1e-4)")
    clip: Literal["paper", "norm", "none"] = option(
        "paper",
        "paper: clip derivatives w.r.t. LSTM pre-activations and network outputs; "
        "norm: global gradient norm",
    )
    lstm_clip: float = option(10.0, "paper clipping: bound on LSTM pre-activation derivatives")
    output_clip: float = option(100.0, "paper clipping: bound on output-layer derivatives")
    max_norm: float = option(10.0, "norm clipping: largest global gradient norm")
    seed: int = option(0, "seed of the weights, the data order and the shuffle buffer")
    device: Literal["cpu", "cuda"] = option("cpu", "where to train")
    threads: int = option(
        1,
        "CPU threads per process (0: torch's default); these LSTMs run many small ops per "
        "step, which more threads barely speed up and slow down badly on a busy machine",
    )
    amp: bool = option(True, "bfloat16 autocast on CUDA (ignored on CPU)")
    workers: int = option(0, "DataLoader worker processes per training process")
    init_from: str | None = option(
        None, "a new run starts from this run's weights (fine-tuning): its model and normalisation"
    )
    train_split: str | None = option(None, "split to train on (default: train or trainset)")
    valid_split: str | None = option(None, "split to validate on (default: valid or testset_v)")
    log_every: int = option(10, "steps between training metrics")
    eval_every: int = option(0, "steps between validations (0: only at the end)")
    eval_batches: int | None = option(None, "batches per validation (default: the whole split)")
    checkpoint_every: int = option(200, "steps between checkpoints (and one at the end)")
    progress: bool = option(True, "show a progress bar with loss and points/s")
    tensorboard: bool = option(True, "also write metrics for TensorBoard (run/tb)")

    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1e-4 if self.optimizer == "rmsprop" else 1e-3

    def check(self) -> None:
        if self.steps is not None and self.epochs is not None:
            raise UsageError("give --steps or --epochs, not both")
        if self.steps is not None and self.steps < 0:
            raise UsageError("--steps must be at least 0")
        if self.epochs is not None and self.epochs <= 0:
            raise UsageError("--epochs must be positive")
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        if min(self.log_every, self.checkpoint_every) < 1 or self.eval_every < 0:
            raise UsageError("--log-every and --checkpoint-every must be at least 1")
        if self.workers < 0 or self.threads < 0:
            raise UsageError("--workers and --threads must be at least 0")


@dataclass(frozen=True)
class LoaderConfig:
    """How batches are drawn from the shards."""

    shuffle: bool = option(True, "shuffle the training split (row-group order and a buffer)")
    shuffle_buffer: int = option(512, "rows in the shuffle buffer")
    bucket_batches: int = option(
        8, "length bucketing: sort pools of this many batches by length (<= 1: off)"
    )
    max_points: int = option(0, "cut handwriting lines to this many points (0: whole lines)")

    def check(self) -> None:
        if self.shuffle_buffer < 1 or self.max_points < 0:
            raise UsageError("--shuffle-buffer must be >= 1 and --max-points >= 0")


# fields a resumed run may change: how it runs, not what it computes
RUNTIME_FIELDS = frozenset(
    {
        "steps",
        "epochs",
        "max_minutes",
        "device",
        "threads",
        "amp",
        "workers",
        "log_every",
        "eval_every",
        "eval_batches",
        "checkpoint_every",
        "progress",
        "tensorboard",
    }
)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; `config.json` in the run folder."""

    task: Task
    data: str
    model: ModelConfig
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    loader: LoaderConfig = dataclasses.field(default_factory=LoaderConfig)
    # from the dataset: mean and std of dx, dy over the training split (handwriting only)
    normalization: tuple[tuple[float, float], tuple[float, float]] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "data": self.data,
            "model": dataclasses.asdict(self.model),
            "train": dataclasses.asdict(self.train),
            "loader": dataclasses.asdict(self.loader),
            "normalization": None
            if self.normalization is None
            else {"mean": list(self.normalization[0]), "std": list(self.normalization[1])},
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RunConfig:
        try:
            task = data["task"]
            if task not in TASKS:
                raise UsageError(f"{CONFIG_FILE}: unknown task {task!r}")
            norm = data.get("normalization")
            return RunConfig(
                task=task,
                data=str(data["data"]),
                model=MODEL_CONFIGS[task](**data["model"]),
                train=TrainConfig(**data["train"]),
                loader=LoaderConfig(**data["loader"]),
                normalization=None
                if norm is None
                else (
                    (float(norm["mean"][0]), float(norm["mean"][1])),
                    (float(norm["std"][0]), float(norm["std"][1])),
                ),
            )
        except (KeyError, TypeError) as exc:
            raise UsageError(f"{CONFIG_FILE}: not a run configuration ({exc})") from exc

    def save(self, run: Path) -> None:
        run.mkdir(parents=True, exist_ok=True)
        text = strict_json(self.to_json(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
        tmp = run / (CONFIG_FILE + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(run / CONFIG_FILE)

    @staticmethod
    def load(run: Path) -> RunConfig:
        path = run / CONFIG_FILE
        if not path.is_file():
            raise DatasetError(f"{run}: not a run folder (no {CONFIG_FILE})")
        try:
            return RunConfig.from_json(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from exc


def differences(saved: RunConfig, requested: RunConfig) -> list[str]:
    """Settings that differ between a saved run and a request, leaving out runtime fields (and
    the dataset's path, which may move: the checkpoint checks the dataset's content hash)."""
    found: list[str] = []
    for name in ("task", "normalization"):
        if getattr(saved, name) != getattr(requested, name):
            found.append(f"{name}: {getattr(saved, name)!r} != {getattr(requested, name)!r}")
    for section in ("model", "train", "loader"):
        old, new = (
            dataclasses.asdict(getattr(saved, section)),
            dataclasses.asdict(getattr(requested, section)),
        )
        for key in old:
            if key not in RUNTIME_FIELDS and old[key] != new.get(key):
                found.append(f"{section}.{key}: {old[key]!r} != {new.get(key)!r}")
    return found


def replace_fields(config: Any, values: Mapping[str, Any]) -> Any:
    """A copy of a config dataclass with the given fields changed (others ignored)."""
    names = {f.name for f in dataclasses.fields(config)}
    return dataclasses.replace(config, **{k: v for k, v in values.items() if k in names})
