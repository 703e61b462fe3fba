"""`make train-demo`: a longer synthesis run on a generated corpus, ending in samples a person
can read, whose window moves along the text.

    python tools/train_demo.py --out train-demo-out --docs docs [--minutes 110]

1. generates an IAM-OnDB-format corpus (as `graves-data synth iam-ondb`) and builds it with the
   real pipeline (as `graves-data build iam-ondb`), unless `--out` already holds them;
2. trains a synthesis network smaller than the paper's (3 x 200 cells by default; 20 Gaussians,
   a window of K = 10; Adam, global-norm clipping, which lets layers 2..N run the fused LSTM)
   for a wall-clock budget, with a checkpoint every 200 steps: run the same command again to
   continue the run;
3. samples a few sentences at two biases, each with its window heatmap, and checks that each
   window moved monotonically along its text and stopped at its end;
4. copies the first passing sample (SVG and heatmap) into `--docs` and writes
   `summary.json`; exits non-zero where no sample passes the checks.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from graves_data.models.config import (
    LoaderConfig,
    RunConfig,
    SynthesisConfig,
    TrainConfig,
)
from graves_data.schema import strict_json

TEXTS = (
    "handwriting synthesis",
    "generating sequences",
    "the window moves along",
    "a quick brown fox",  # q, k, x and f are rare in the corpus: the last to come out right
)
BIASES = (1.0, 3.0)


def prepare_data(out: Path, lines: int, seed: int) -> Path:
    """The generated corpus and its dataset under `out` (made once, then reused)."""
    from graves_data.corpora.iam_ondb import IamParams, build
    from graves_data.pipelines.runner import Execution
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    raw, dataset = out / "raw", out / "iam-ondb"
    if not (raw / "SYNTH.json").exists():
        shutil.rmtree(raw, ignore_errors=True)
        synth_iam_ondb(raw, IamSynthParams(lines=lines, seed=seed), progress=True)
    if not (dataset / "manifest.json").exists():
        shutil.rmtree(dataset, ignore_errors=True)
        build(str(raw), str(dataset), IamParams(), execution=Execution(progress=True))
    return dataset


def demo_config(data: Path, options: dict[str, Any]) -> RunConfig:
    return RunConfig(
        task="synthesis",
        data=str(data),
        model=SynthesisConfig(hidden=options["hidden"], layers=options["layers"]),
        train=TrainConfig(
            steps=options["steps"],
            max_minutes=options["minutes"],
            batch_size=options["batch_size"],
            optimizer=options["optimizer"],
            lr=options["lr"],
            clip=options["clip"],
            eval_every=500,
            eval_batches=8,
            checkpoint_every=200,
            log_every=20,
            seed=options["seed"],
        ),
        loader=LoaderConfig(),
    )


def write_samples(run: Path, folder: Path, texts: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every text at every bias: SVG, heatmap, and whether the window behaved."""
    from graves_data.models.sample import sample_run

    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for i, text in enumerate(texts):
        for bias in BIASES:
            out = folder / f"sample-{i}-bias{bias:g}.svg"
            result = sample_run(run, out, text=text, bias=bias, seed=i)
            if result.phi is not None:
                np.save(out.with_suffix(".window.npy"), result.phi)
            found.append(
                {
                    "text": text,
                    "bias": bias,
                    "svg": str(out),
                    "heatmap": str(result.heatmap),
                    "points": result.points,
                    "stopped_at_end": bool(result.stopped),
                    "monotonic": bool(result.monotonic),
                }
            )
            click.echo(
                f"{out.name}: {text!r} bias {bias:g}, {result.points} points, "
                f"window {'monotonic' if result.monotonic else 'NOT monotonic'}, "
                f"{'stopped at the end of the text' if result.stopped else 'did NOT reach the end'}"
            )
    return found


def publish(samples: list[dict[str, Any]], docs: Path) -> dict[str, Any] | None:
    """Copy the first passing sample (texts in order, bias 1 before 3) into docs/ as
    synthesis-sample.svg and synthesis-sample.window.png."""
    passing = [s for s in samples if s["monotonic"] and s["stopped_at_end"]]
    if not passing:
        return None
    best = passing[0]
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best["svg"], docs / "synthesis-sample.svg")
    shutil.copyfile(best["heatmap"], docs / "synthesis-sample.window.png")
    return best


@click.command()
@click.option("--out", default="train-demo-out", show_default=True, help="Working folder.")
@click.option("--docs", default=None, help="Copy the best passing sample into this folder.")
@click.option("--lines", default=3000, show_default=True, help="Lines of the generated corpus.")
@click.option("--minutes", default=110.0, show_default=True, help="Training wall-clock budget.")
@click.option("--steps", default=100_000, show_default=True, help="Step limit (of the whole run).")
@click.option("--hidden", default=200, show_default=True, help="LSTM cells per layer.")
@click.option("--layers", default=3, show_default=True, help="Hidden layers.")
@click.option("--batch-size", default=16, show_default=True)
@click.option(
    "--optimizer", type=click.Choice(["rmsprop", "adam"]), default="adam", show_default=True
)
@click.option("--lr", default=1e-3, show_default=True)
@click.option(
    "--clip",
    type=click.Choice(["paper", "norm"]),
    default="norm",
    show_default=True,
    help="norm lets layers 2..N run the fused LSTM: 1.5x the steps of paper clipping per hour",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--text", "texts", multiple=True, help="Texts to sample (default: four sentences).")
def main(out: str, docs: str | None, lines: int, texts: tuple[str, ...], **options: Any) -> None:
    """Train a synthesis network on a generated corpus and write readable samples."""

    from graves_data.models.train import train

    folder = Path(out)
    data = prepare_data(folder, lines, options["seed"])
    summary = train(demo_config(data, options), folder / "run")
    samples = write_samples(folder / "run", folder / "samples", texts or TEXTS)
    best = publish(samples, Path(docs)) if docs else None
    report = {"training": summary, "samples": samples, "published": best}
    text = strict_json(report, indent=2, ensure_ascii=True) + "\n"
    (folder / "summary.json").write_text(text, encoding="utf-8")
    passed = sum(s["monotonic"] and s["stopped_at_end"] for s in samples)
    click.echo(f"{passed} of {len(samples)} samples passed; summary in {folder / 'summary.json'}")
    if passed == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
