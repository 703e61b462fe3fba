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
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graves_data.errors import DatasetError, UsageError
from graves_data.schema import strict_json

Task = Literal["handwriting", "synthesis", "text"]
TASKS: tuple[Task, ...] = ("handwriting", "synthesis", "text")
CONFIG_FILE = "config.json"
CHECKPOINT = "checkpoint.pt"


def option(default: Any, help: str, cli: bool = True) -> Any:
    """A config field with its CLI help text; `cli=False` keeps it off the command line."""
    return dataclasses.field(default=default, metadata={"help": help, "cli": cli})


def finite_at_least(name: str, value: float, low: float) -> None:
    """UsageError unless `value` is a finite number >= `low` (NaN fails every comparison)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= low):
        raise UsageError(f"{name} must be a finite number >= {low:g}, not {value!r}")


@dataclass(frozen=True)
class NoiseSpec:
    """A parsed `--weight-noise`: "none", "fixed" (with its deviation) or "adaptive"."""

    kind: Literal["none", "fixed", "adaptive"]
    std: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.kind != "none"


def weight_noise_spec(value: str) -> NoiseSpec:
    """`none`, `adaptive`, or a finite standard deviation >= 0 (0: none); UsageError otherwise."""
    text = str(value).strip().lower()
    if text == "none":
        return NoiseSpec("none")
    if text == "adaptive":
        return NoiseSpec("adaptive")
    try:
        std = float(text)
    except ValueError:
        raise UsageError(
            f"--weight-noise must be none, adaptive or a standard deviation, not {value!r}"
        ) from None
    if not (math.isfinite(std) and std >= 0):
        raise UsageError(f"--weight-noise must be a finite deviation >= 0, not {value!r}")
    return NoiseSpec("none") if std == 0 else NoiseSpec("fixed", std)


@dataclass(frozen=True)
class PredictionConfig:
    """Handwriting prediction network (Graves 2013, section 4, eqs 15-26)."""

    hidden: int = option(400, "LSTM cells per hidden layer")
    layers: int = option(3, "hidden layers (skip connections input->each, each->output)")
    mixtures: int = option(20, "bivariate Gaussians in the output mixture")
    peepholes: bool = option(True, "LSTM peephole weights, as in the paper's eqs 7-11")

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
    peepholes: bool = option(True, "LSTM peephole weights, as in the paper's eqs 7-11")
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
    peepholes: bool = option(True, "LSTM peephole weights, as in the paper's eqs 7-11")
    vocab_size: int = option(0, "symbols (from vocab.json)", cli=False)


ModelConfig = PredictionConfig | SynthesisConfig | TextConfig
MODEL_CONFIGS: dict[Task, type[Any]] = {
    "handwriting": PredictionConfig,
    "synthesis": SynthesisConfig,
    "text": TextConfig,
}


# points per forward and backward pass (`--pass-points`): at the paper's 3 x 400 with peepholes
# a point holds about 40 KB of activations for the backward, so 20,000 points keep a run of
# `train handwriting` near 1.2 GB however long a batch's lines (the real release's reach 1,900
# points, 32 of them 2.4 GB in one pass); typical batches of 32 lines run in one pass
PASS_POINTS = 20_000


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
    optimizer: Literal["rmsprop", "adam", "sgd"] = option(
        "rmsprop",
        "rmsprop: Graves' variant (eqs 38-41); adam: torch.optim.Adam; sgd: torch.optim.SGD "
        "with --momentum (text runs default to the paper's protocol for their corpus)",
    )
    lr: float | None = option(
        None, "learning rate (default 1e-4 for rmsprop and sgd, 1e-3 for adam)"
    )
    momentum: float = option(0.9, "rmsprop and sgd momentum (the paper's 0.9)")
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
    pass_points: int = option(
        PASS_POINTS,
        "most points one forward and backward pass holds: a handwriting batch with more runs "
        "as consecutive pieces of whole lines (each cut to its longest line) whose gradients "
        "add up to the batch's, so memory is bounded by this, not by the batch (0: one pass)",
    )
    lstm_impl: Literal["fused", "stepped"] = option(
        "fused", "LSTM: fused (hand-written backward through time) or stepped (the test oracle)"
    )
    weight_noise: str = option(
        "none",
        "none; adaptive: Graves (2011) variational weight noise, a Gaussian posterior per weight "
        "under an adaptive prior, MDL loss; or STD: fixed-deviation Gaussian noise (weights "
        "drawn once per batch)",
    )
    noise_init: float = option(
        0.01, "adaptive weight noise: the posterior deviations' initial value"
    )
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
        return 1e-3 if self.optimizer == "adam" else 1e-4

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
        if self.pass_points < 0:
            raise UsageError(
                f"--pass-points must be at least 0 (0: one pass), not {self.pass_points}"
            )
        finite_at_least("--momentum", self.momentum, 0.0)
        if self.momentum >= 1:
            raise UsageError(f"--momentum must be in [0, 1), not {self.momentum!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr must be a finite number > 0, not {self.lr!r}")
        for name in ("decay", "eps", "lstm_clip", "output_clip", "max_norm"):
            finite_at_least("--" + name.replace("_", "-"), getattr(self, name), 0.0)
        if not 0 <= self.decay < 1:
            raise UsageError(f"--decay must be in [0, 1), not {self.decay!r}")
        if not (math.isfinite(self.noise_init) and self.noise_init > 0):
            raise UsageError(f"--noise-init must be a finite number > 0, not {self.noise_init!r}")
        weight_noise_spec(self.weight_noise)


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


# The paper's protocol for the text networks (section 3): stochastic gradient descent, learning
# rate 1e-4, momentum 0.99 on Penn Treebank and 0.9 on Wikipedia (enwik8 is the Hutter prize
# Wikipedia), LSTM derivatives clipped to [-1, 1]. `train text` starts a new run from these for
# the corpus the dataset's manifest names; options given explicitly override them.
TEXT_PROTOCOL: dict[str, dict[str, Any]] = {
    "ptb": {"optimizer": "sgd", "lr": 1e-4, "momentum": 0.99, "lstm_clip": 1.0},
    "enwik8": {"optimizer": "sgd", "lr": 1e-4, "momentum": 0.9, "lstm_clip": 1.0},
    "wikipedia": {"optimizer": "sgd", "lr": 1e-4, "momentum": 0.9, "lstm_clip": 1.0},
}


def text_protocol(corpus: str) -> dict[str, Any]:
    """The paper's training settings for a text corpus (empty for a corpus it did not use)."""
    return dict(TEXT_PROTOCOL.get(corpus, {}))


# fields a resumed run may change: how it runs, not what it computes
RUNTIME_FIELDS = frozenset(
    {
        "steps",
        "epochs",
        "max_minutes",
        "device",
        "threads",
        "pass_points",
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

    def check(self) -> None:
        """UsageError naming the field of the first setting out of its type or range."""
        for section in ("model", "train", "loader"):
            check_types(section, getattr(self, section))
        model = self.model
        for name in ("hidden", "layers", "mixtures", "window"):
            value = getattr(model, name, 1)
            if value < 1:
                raise UsageError(f"model.{name} must be at least 1, not {value!r}")
        vocab_size = getattr(model, "vocab_size", 0)
        if vocab_size < 0:
            raise UsageError(f"model.vocab_size must be at least 0, not {vocab_size!r}")
        if isinstance(model, SynthesisConfig) and not math.isfinite(model.kappa_bias):
            raise UsageError(f"model.kappa_bias must be finite, not {model.kappa_bias!r}")
        for section, config in (("train", self.train), ("loader", self.loader)):
            try:
                config.check()
            except UsageError as error:
                raise UsageError(f"{section}: {error}") from None
        if self.normalization is not None:
            (mx, my), (sx, sy) = self.normalization
            for name, value in (("mean", mx), ("mean", my)):
                if not math.isfinite(value):
                    raise UsageError(f"normalization.{name} must be finite, not {value!r}")
            for value in (sx, sy):
                if not (math.isfinite(value) and value > 0):
                    raise UsageError(f"normalization.std must be finite and > 0, not {value!r}")

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
            config = RunConfig.from_json(json.loads(path.read_text(encoding="utf-8")))
            config.check()
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
        except UsageError as exc:
            raise DatasetError(f"{path}: {str(exc).removeprefix(CONFIG_FILE + ': ')}") from None
        return config


def check_types(section: str, config: Any) -> None:
    """UsageError naming `section.field` where a value is not of its field's type."""
    hints = typing.get_type_hints(type(config))
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if not _of_type(value, hints[item.name]):
            raise UsageError(f"{section}.{item.name}: {value!r} is not a {hints[item.name]}")


def _of_type(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_of_type(value, a) for a in typing.get_args(annotation))
    if origin is Literal:
        return value in typing.get_args(annotation)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


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


# ---------------------------------------------------------------------------------------------
# the resume rule, for the CLI and Python callers alike


def configure(task: Task, run: str | Path, *, data: str | None = None, **options: Any) -> RunConfig:
    """What `train(config, run)` should be given to train `run`, by the rule `graves-data train`
    follows.

    A folder that already holds a trained run (its config.json and checkpoint) is resumed: its
    saved configuration is kept, changed only by `options` (field names of the model, train
    and loader configs; a change of what is computed, like `hidden`, is then refused by
    `train`). Otherwise a new run: `options` over the defaults, and for a text run the paper's
    protocol for the corpus in `data`'s manifest wherever `options` does not say otherwise.
    """
    run = Path(run)
    _check_names(task, options)
    saved = (
        RunConfig.load(run)
        if (run / CONFIG_FILE).is_file() and (run / CHECKPOINT).is_file()
        else None
    )
    if saved is None:
        return _new_run(task, data, options)
    if saved.task != task:
        raise UsageError(f"{run} holds a {saved.task} run, not a {task} run")
    given = dict(options)
    if "steps" in given:  # a budget replaces the other one
        given.setdefault("epochs", None)
    if "epochs" in given:
        given.setdefault("steps", None)
    return dataclasses.replace(
        saved,
        data=data or saved.data,
        model=replace_fields(saved.model, given),
        train=replace_fields(saved.train, given),
        loader=replace_fields(saved.loader, given),
    )


def _new_run(task: Task, data: str | None, options: Mapping[str, Any]) -> RunConfig:
    if not data:
        raise UsageError("--data is required to start a new run")
    if task == "text":
        from graves_data.shards import open_dataset

        corpus = str(open_dataset(data).manifest.get("corpus", ""))
        options = {**text_protocol(corpus), **options}
    return RunConfig(
        task=task,
        data=data,
        model=replace_fields(MODEL_CONFIGS[task](), options),
        train=replace_fields(TrainConfig(), options),
        loader=replace_fields(LoaderConfig(), options),
    )


def _check_names(task: Task, options: Mapping[str, Any]) -> None:
    configs = (MODEL_CONFIGS[task], TrainConfig, LoaderConfig)
    unknown = set(options) - {f.name for cls in configs for f in dataclasses.fields(cls)}
    if unknown:
        raise UsageError(f"not an option of a {task} run: {', '.join(sorted(unknown))}")
