"""Training speed, against baselines measured in the same run.

- loader: the points per second the streaming `HandwritingStream` delivers in one process
  (seeded shuffle buffer, length buckets, padding, masks) against the points per second one CPU
  training step of the paper's 3 x 400 prediction network consumes (target ratio >= 20);
- trainer: one `Trainer.train_step` against a bare PyTorch loop (forward, eq 26 loss, backward,
  Graves' RMSProp step) with the same model, the same batch and the same derivative clipping,
  timed alternately (target ratio <= 1.15).

Times are process CPU times with one torch thread: the machines these run on are shared, and
CPU time is what another process's load disturbs least (wall times are in train.json too).
The corpus is generated (`graves-data synth iam-ondb`) and built with the real pipeline, cached
in bench/out/cache. Results: bench/out/train.json and the markdown fragment bench/out/train.md.

    python -m bench.bench_train [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from bench.common import CACHE, OUT, machine, table

FULL_POINTS = 7_660_000  # the full IAM-OnDB release


def ensure_dataset(lines: int, seed: int = 11) -> Path:
    """A generated IAM-OnDB corpus, built into a dataset; both kept in bench/out/cache."""
    from graves_data.corpora.iam_ondb import IamParams, build
    from graves_data.pipelines.runner import Execution
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    raw = CACHE / f"iam-{lines}-s{seed}"
    if not (raw / "SYNTH.json").exists():
        shutil.rmtree(raw, ignore_errors=True)
        synth_iam_ondb(raw, IamSynthParams(lines=lines, seed=seed), progress=False)
    dataset = CACHE / f"iam-{lines}-s{seed}-dataset"
    if not (dataset / "manifest.json").exists():
        shutil.rmtree(dataset, ignore_errors=True)
        build(raw, dataset, IamParams(), execution=Execution(workers=1, progress=False))
    return dataset


def loader_rate(data: Path, batch_size: int, epochs: int, repeats: int) -> dict[str, float]:
    """Points per second out of the training stream, one process."""
    from graves_data.models.data import HandwritingStream

    rates = []
    for seed in range(repeats):
        stream = HandwritingStream(str(data), "train", batch_size, seed=seed, epochs=epochs)
        start, points = time.process_time(), 0
        for batch in stream:
            points += batch.points
        rates.append(points / (time.process_time() - start))
    return {"points_per_s": statistics.median(rates), "points_per_epoch": points / epochs}


def make_trainer(data: Path, batch_size: int, run: Path) -> Any:
    from graves_data.models.config import PredictionConfig, RunConfig, TrainConfig
    from graves_data.models.train import Trainer, prepare

    config = RunConfig(
        task="handwriting",
        data=str(data),
        model=PredictionConfig(),
        train=TrainConfig(batch_size=batch_size, progress=False, tensorboard=False),
    )
    return Trainer(prepare(config), run)


def step_rate(data: Path, batch_size: int, steps: int, run: Path) -> dict[str, float]:
    """Points per second of training steps of the 3 x 400 network on successive batches."""
    trainer = make_trainer(data, batch_size, run)
    batches = trainer.batches()
    trainer.train_step(next(batches))  # warm-up
    times, walls, points = [], [], 0
    for _ in range(steps):
        batch = next(batches)
        start, wall = time.process_time(), time.perf_counter()
        trainer.train_step(batch)
        times.append(time.process_time() - start)
        walls.append(time.perf_counter() - wall)
        points += batch.points
    batches.close()
    return {
        "points_per_s": points / sum(times),
        "seconds_per_step": statistics.median(times),
        "wall_points_per_s": points / sum(walls),
    }


def bare_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Any) -> None:
    """What anyone would write: forward, the eq 26 loss, backward, optimiser step."""
    from graves_data.models import mixture
    from graves_data.models.lstm import Clip

    size = batch.inputs.shape[0]
    y_hat, _ = model(batch.inputs, None, Clip(10.0 / size, 100.0 / size))
    nll = mixture.point_nll(y_hat, batch.targets, 20)
    loss = (nll * batch.mask).sum(dim=1).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def overhead(data: Path, batch_size: int, repeats: int, run: Path) -> dict[str, float]:
    """Trainer step against the bare loop, same model and batch, timed alternately."""
    from graves_data.models.optim import GravesRMSprop

    trainer = make_trainer(data, batch_size, run)
    batches = trainer.batches()
    batch = next(batches)
    batches.close()
    optimizer = GravesRMSprop(trainer.model.parameters())
    trainer.train_step(batch)
    bare_step(trainer.model, optimizer, batch)
    ours, bare = [], []
    for _ in range(repeats):
        start = time.process_time()
        trainer.train_step(batch)
        ours.append(time.process_time() - start)
        start = time.process_time()
        bare_step(trainer.model, optimizer, batch)
        bare.append(time.process_time() - start)
    # the fastest of several alternating runs: the least disturbed by other work on the machine
    return {
        "trainer_s": min(ours),
        "bare_s": min(bare),
        "ratio": min(ours) / min(bare),
        "median_ratio": statistics.median(ours) / statistics.median(bare),
        "points": batch.points,
        "shape": list(batch.inputs.shape),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller corpus, fewer repeats")
    args = parser.parse_args()
    lines, steps, repeats = (200, 2, 4) if args.quick else (600, 4, 8)
    data = ensure_dataset(lines)
    run = OUT / "tmp" / "train-run"
    torch.manual_seed(0)
    torch.set_num_threads(1)
    result = {
        "machine": machine(),
        "torch_threads": torch.get_num_threads(),
        "lines": lines,
        "loader": loader_rate(data, 32, 3, 3),
        "step": step_rate(data, 32, steps, run),
        "overhead": overhead(data, 8, repeats, run),
        "cuda": torch.cuda.is_available(),
    }
    result["loader_ratio"] = result["loader"]["points_per_s"] / result["step"]["points_per_s"]
    shutil.rmtree(run, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "train.json").write_text(json.dumps(result, indent=2))
    (OUT / "train.md").write_text(render(result))
    print(render(result))


def render(r: dict[str, Any]) -> str:
    loader, step, over = r["loader"], r["step"], r["overhead"]
    epoch_hours = FULL_POINTS / step["points_per_s"] / 3600
    rows = [
        [
            "loader: HandwritingStream, 1 process (shuffle, buckets, padding), batch 32",
            f"{loader['points_per_s'] / 1e6:.2f} M points/s",
        ],
        [
            "training step: 3 x 400 prediction network, batch 32, paper clipping, 1 CPU thread",
            f"{step['points_per_s']:,.0f} points/s ({step['seconds_per_step']:.2f} s/step)",
        ],
        [
            f"Trainer.train_step, batch {over['shape'][0]} x {over['shape'][1]} points "
            "(fastest of alternating runs)",
            f"{over['trainer_s']:.3f} s",
        ],
        ["bare PyTorch loop, same model, batch and clipping", f"{over['bare_s']:.3f} s"],
    ]
    gpu = (
        "a GPU was present but this benchmark measures the CPU"
        if r["cuda"]
        else "no GPU in this session: sequences/s on a GPU not measured"
    )
    return (
        f"Training speed: {r['machine']}; process CPU time, {r['torch_threads']} torch thread; "
        "generated "
        f"IAM-OnDB, {r['lines']} lines ({loader['points_per_epoch'] / 1e6:.2f} M training "
        "points).\n\n"
        + table(["measurement", "result"], rows)
        + "\n\n"
        + f"- loader / training step (points/s): **{r['loader_ratio']:.0f}x** (target >= 20x)\n"
        + f"- trainer / bare loop (time per step): **{over['ratio']:.3f}** (target <= 1.15; "
        + f"ratio of the medians {over['median_ratio']:.3f})\n"
        + f"- one epoch of full-size IAM-OnDB ({FULL_POINTS / 1e6:.2f} M points) at this speed: "
        + f"{epoch_hours:.1f} h on one CPU thread\n"
        + f"- {gpu}\n"
    )


if __name__ == "__main__":
    main()
