"""Commands for the networks: `train handwriting|synthesis|text`, `eval`, `sample`.

A thin shell over `graves_data.models.train.train`, `...evaluate.evaluate_run` and
`...sample.sample_run`. torch is imported only inside the command functions, so the data
toolkit runs without it; `COMMANDS` is what `graves_data.cli` adds to the `graves-data` group.
Options come from the config dataclasses' fields (`graves_data.models.config`), through the
one dataclass-to-click layer the data commands use too (`graves_data.options`).

Training a run folder that already holds a checkpoint resumes it: its saved configuration is
kept, and only the options given on the command line change it (a setting that changes what is
computed, like --hidden, is refused; --steps, --epochs, --device... are fine). The rule is
`graves_data.models.config.configure`, which Python callers of `train` use too.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from graves_data.errors import GravesDataError, UsageError
from graves_data.models.config import (
    MODEL_CONFIGS,
    LoaderConfig,
    RunConfig,
    Task,
    TrainConfig,
    configure,
)
from graves_data.options import dataclass_options
from graves_data.schema import strict_json


class Group(click.Group):
    """Prints graves-data's own errors as one line (when used outside `graves-data`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GravesDataError as error:
            click.secho(f"error: {error}", err=True, fg="red")
            ctx.exit(error.exit_code)


def require_torch() -> None:
    """A clear error where PyTorch is not installed (the data toolkit runs without it)."""
    if importlib.util.find_spec("torch") is None:
        raise UsageError("the networks need PyTorch: pip install 'graves-data[train]'")


THREADS_HELP = "CPU threads (0: torch's default); the networks step through time in small ops"


def use_threads(threads: int) -> None:
    require_torch()
    if threads:
        import torch

        torch.set_num_threads(threads)


def run_config(
    task: Task, data: str | None, run: Path, values: Mapping[str, Any], explicit: set[str]
) -> RunConfig:
    """`configure` with the options given on the command line (the rest are the defaults)."""
    return configure(task, run, data=data, **{k: v for k, v in values.items() if k in explicit})


# ---------------------------------------------------------------------------------------------
# train


@click.group(cls=Group)
def train() -> None:
    """Train the paper's networks from a dataset's shards (an existing --run resumes)."""


TRAIN_HELP: dict[Task, str] = {
    "handwriting": "Train the handwriting prediction network (section 4: 3 x 400 LSTM, 20 "
    "bivariate Gaussians) on a handwriting dataset.",
    "synthesis": "Train the handwriting synthesis network (section 5: soft window over the "
    "text) on a handwriting dataset.",
    "text": "Train the character-level LSTM (section 3) on a text dataset (enwik8, PTB, "
    "Wikipedia), with truncated backpropagation through contiguous chunks.",
}


def _same(function: Callable[..., Any]) -> Callable[..., Any]:
    return function


def _add_train_command(task: Task) -> None:
    @train.command(name=task, help=TRAIN_HELP[task])
    @click.option(
        "--data", default=None, help="Dataset folder (or URL); a resumed run keeps its own."
    )
    @click.option("--run", "run_dir", required=True, help="Run folder (created, or resumed).")
    @dataclass_options(MODEL_CONFIGS[task])
    @dataclass_options(TrainConfig)
    @(dataclass_options(LoaderConfig) if task != "text" else _same)
    def command(data: str | None, run_dir: str, **values: Any) -> None:
        require_torch()
        ctx = click.get_current_context()
        explicit = {
            name for name in values if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
        }
        config = run_config(task, data, Path(run_dir), values, explicit)
        from graves_data.models.distributed import distributed_from_env
        from graves_data.models.train import train as train_run

        summary = train_run(config, run_dir)
        if distributed_from_env().main:
            _print_summary(run_dir, summary)


def _print_summary(run_dir: str, summary: Mapping[str, Any]) -> None:
    valid = ", ".join(f"{k} {v:.4g}" for k, v in summary["valid"].items())
    where = f"{summary['task']} run {run_dir}: step {summary['step']}"
    click.echo(f"{where}; {summary['valid_split']}: {valid}")


for _task in MODEL_CONFIGS:
    _add_train_command(_task)


# ---------------------------------------------------------------------------------------------
# eval and sample


@click.command(name="eval")
@click.option("--run", "run_dir", required=True, help="A trained run folder.")
@click.option("--split", default="valid", show_default=True, help="Split to evaluate.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--dynamic",
    type=click.Choice(["sequential", "parallel"]),
    is_flag=False,
    flag_value="sequential",
    default=None,
    help="Also dynamic evaluation (learning while reading): sequential (the paper's, and "
    "--dynamic alone) reads the split as one stream in order; parallel as batch-size streams.",
)
@click.option(
    "--dynamic-lr",
    type=float,
    default=None,
    help="Learning rate of dynamic evaluation (default: the run's training rate).",
)
@click.option("--batches", type=int, default=None, help="Evaluate only the first N batches.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int, default=1, show_default=True, help=THREADS_HELP)
def eval_command(
    run_dir: str,
    split: str,
    as_json: bool,
    dynamic: str | None,
    dynamic_lr: float | None,
    batches: int | None,
    device: str,
    threads: int,
) -> None:
    """Evaluate a trained run: nats per sequence and SSE per point, or bits per character."""
    use_threads(threads)
    from graves_data.models.evaluate import evaluate_run

    report = evaluate_run(
        run_dir, split, device=device, batches=batches, dynamic=dynamic, dynamic_lr=dynamic_lr
    )
    if as_json:
        click.echo(strict_json(report, indent=2, sort_keys=True, ensure_ascii=True))
        return
    click.echo(f"{report['task']} run {run_dir}, step {report['step']}, split {report['split']}")
    for key, value in report.items():
        if isinstance(value, float):
            click.echo(f"  {key:>18}  {value:.6g}")
    for key, value in report.get("dynamic", {}).items():
        click.echo(f"  {'dynamic ' + key:>18}  {value:.6g}  ({report['dynamic_mode']})")


@click.command(name="sample")
@click.option("--run", "run_dir", required=True, help="A trained run folder.")
@click.option("--out", required=True, help="Output: .svg or .png (text runs: any file).")
@click.option("--text", default=None, help="Synthesis: the text to write. Text runs: the prime.")
@click.option(
    "--bias", type=float, default=0.0, show_default=True, help="Sampling bias b (eqs 61-62)."
)
@click.option("--prime", default=None, help="Prime with this line of the run's dataset (style).")
@click.option("--steps", type=int, default=None, help="Points (or characters) to sample at most.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--heatmap", default=None, help="Synthesis: window heatmap PNG (default OUT.window.png)."
)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int, default=1, show_default=True, help=THREADS_HELP)
def sample_command(
    run_dir: str,
    out: str,
    text: str | None,
    bias: float,
    prime: str | None,
    steps: int | None,
    seed: int,
    heatmap: str | None,
    device: str,
    threads: int,
) -> None:
    """Sample handwriting (or text) from a trained run."""
    use_threads(threads)
    from graves_data.models.sample import sample_run

    result = sample_run(
        run_dir,
        out,
        text=text,
        bias=bias,
        prime=prime,
        steps=steps,
        seed=seed,
        heatmap=heatmap,
        device=device,
    )
    click.echo(f"wrote {result.out} ({result.points} {result.unit})")
    if result.heatmap is not None:
        state = "reached the end of the text" if result.stopped else "stopped at --steps"
        motion = "moved monotonically" if result.monotonic else "moved back at some point"
        click.echo(f"wrote {result.heatmap}: the window {motion} and {state}")


COMMANDS: list[click.Command] = [train, eval_command, sample_command]


@click.group(cls=Group)
def main() -> None:
    """The networks' commands on their own (`python -m graves_data.models.cli`)."""


for _command in COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":  # under torchrun: see graves_data.process for why it ends this way
    from graves_data.process import run_and_exit

    run_and_exit(main)
