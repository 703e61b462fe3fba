"""Training speed, against baselines measured in the same run.

- loader: the points per second the streaming `HandwritingStream` delivers in one process
  (seeded shuffle buffer, length buckets, padding, masks) against the points per second one CPU
  training step of the paper's 3 x 400 prediction network consumes (target ratio >= 20);
- trainer: one `Trainer.train_step` against a bare PyTorch loop (forward, eq 26 loss, backward,
  Graves' RMSProp step) with the same model, the same batch and the same derivative clipping,
  timed alternately (target ratio <= 1.15).

- LSTM paths (issue 12): one batch of 32 lines x 300 points, the paper's 3 x 400 networks
  with peephole cells, every contender on the same batch, timed alternately: the prediction
  and synthesis steps with the paper's derivative clipping on the fused LSTM (the default), on
  `--clip norm`, and on the stepped oracle, against the bare loop (3 `nn.LSTM` layers with skip
  connections, no peepholes, no clipping, the same mixture head; oneDNN on the CPU) (targets:
  prediction / bare <= 1.0, synthesis / prediction <= 1.15); the ATen calls per time step of
  each; and the peak resident memory and CPU time of `graves-data train handwriting` (3 x 400,
  peepholes, batch 32, whole lines) by `/usr/bin/time -v` (target <= 1.5 GB): with the
  defaults, in one pass a batch (`--pass-points 0`), and on the stepped path.

Times are process CPU times with one torch thread: the machines these run on are shared, and
CPU time is what another process's load disturbs least (wall times are in train.json too).
The loader and step figures use a generated corpus (`graves-data synth iam-ondb`, built with
the real pipeline); the LSTM paths and the memory use the real release where
../shared/data has it (built once by the real pipeline), else the generated corpus; both are
cached in bench/out/cache, and `--data` takes a built dataset instead. Results:
bench/out/train.json and the markdown fragment bench/out/train.md.

    python -m bench.bench_train [--quick] [--data DATASET]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from bench.common import CACHE, OUT, Stat, machine, table

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


def real_dataset() -> Path | None:
    """The real IAM-OnDB release built by the real pipeline into bench/out/cache (once), or
    None where ../shared/data lacks the release."""
    from bench.iam_inputs import real_release
    from graves_data.corpora.iam_ondb import IamParams, build
    from graves_data.pipelines.runner import Execution

    raw = real_release()
    if raw is None:
        return None
    dataset = CACHE / "iam-real-dataset"
    if not (dataset / "manifest.json").exists():
        shutil.rmtree(dataset, ignore_errors=True)
        build(str(raw), str(dataset), IamParams(), execution=Execution(workers=2, progress=False))
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


# the LSTM paths: (name, network, gpu_check path); "cudnn" is the bare nn.LSTM loop
CONTENDERS = (
    ("bare loop: 3 nn.LSTM layers with skips + the mixture head", "prediction", "cudnn"),
    ("prediction, paper clipping, fused (default)", "prediction", "fused"),
    ("prediction, --clip norm (fused, unclipped)", "prediction", "norm"),
    ("prediction, paper clipping, stepped oracle", "prediction", "stepped"),
    ("synthesis (K = 10), paper clipping, fused (default)", "synthesis", "fused"),
    ("synthesis (K = 10), paper clipping, stepped oracle", "synthesis", "stepped"),
)


def aten_calls(step: Callable[[], None]) -> int:
    """ATen operators one call of `step` dispatches (forward, backward, optimiser)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    with Count():
        step()
    return Count.calls


def lstm_paths(data: Path, repeats: int, points: int) -> dict[str, Any]:
    """Every contender on one batch of 32 lines x `points` points, timed alternately."""
    from bench.gpu_check import PAPER, handwriting_batch, make_step, prepared_model, vocab_size

    cpu = torch.device("cpu")
    batch = handwriting_batch(data, 32, points, cpu)
    small = handwriting_batch(data, 2, 40, cpu)  # for the call counts: they do not depend on it
    vocab = vocab_size(data)
    steps, calls = {}, {}
    for name, network, path in CONTENDERS:
        model = prepared_model(network, path, PAPER, vocab, cpu)
        steps[name] = make_step(network, model, path, batch, nullcontext())
        steps[name]()  # warm-up
        count = make_step(network, model, path, small, nullcontext())
        calls[name] = (aten_calls(count) - aten_calls(lambda: None)) / small.inputs.shape[1]
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.process_time()
            step()
            times[name].append(time.process_time() - start)
    return {
        "shape": list(batch.inputs.shape),
        "points": batch.points,
        "seconds": {name: Stat.of(t).__dict__ for name, t in times.items()},
        "aten_calls_per_step": calls,
    }


# `graves-data train handwriting` runs whose peak memory is measured: (label, LSTM path,
# --pass-points or None for the default)
MEMORY_RUNS = (
    ("fused, --pass-points 20,000 (the defaults)", "fused", None),
    ("fused, one pass a batch (--pass-points 0)", "fused", 0),
    ("stepped oracle, --pass-points 20,000", "stepped", None),
)


def train_memory(
    data: Path, label: str, impl: str, points: int | None, steps: int, run: Path
) -> dict[str, Any]:
    """Peak RSS and CPU time of `graves-data train handwriting` (3 x 400, peepholes, batch 32,
    whole lines)."""
    shutil.rmtree(run, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "graves-data"), "train", "handwriting"]
    command += ["--data", str(data), "--run", str(run), "--peepholes", "--batch-size", "32"]
    command += ["--steps", str(steps), "--eval-batches", "1", "--no-progress"]
    command += ["--no-tensorboard", "--lstm-impl", impl]
    command += [] if points is None else ["--pass-points", str(points)]
    if not Path("/usr/bin/time").exists():
        return {"label": label, "peak_rss_mb": None, "note": "no /usr/bin/time here"}
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"train failed:\n{done.stderr[-3000:]}")

    def field(pattern: str) -> str | None:
        found = re.search(pattern, done.stderr)
        return found.group(1) if found else None

    rss, user, system = (
        field(r"Maximum resident set size \(kbytes\): (\d+)"),
        field(r"User time \(seconds\): ([\d.]+)"),
        field(r"System time \(seconds\): ([\d.]+)"),
    )
    shutil.rmtree(run, ignore_errors=True)
    return {
        "label": label,
        "steps": steps,
        "peak_rss_mb": int(rss) / 1024 if rss else None,
        "wall": field(r"Elapsed \(wall clock\) time.*: ([\d:.]+)"),
        "cpu_s": float(user) + float(system) if user and system else None,
        "system_s": float(system) if system else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller corpus, fewer repeats")
    parser.add_argument(
        "--data", type=Path, help="a built handwriting dataset (default: generated)"
    )
    args = parser.parse_args()
    lines, steps, repeats = (200, 2, 4) if args.quick else (600, 4, 8)
    data = ensure_dataset(lines)
    real = args.data or real_dataset() or data
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
        "paths_data": "generated" if real == data else f"real ({real.name})",
        "paths": lstm_paths(real, 2 if args.quick else 5, 60 if args.quick else 300),
        "memory": [train_memory(real, *spec, 1 if args.quick else 3, run) for spec in MEMORY_RUNS],
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
        + "\n"
        + render_paths(r)
    )


def render_paths(r: dict[str, Any]) -> str:
    paths = r["paths"]
    seconds = {name: s["median"] for name, s in paths["seconds"].items()}
    low = {name: s["low"] for name, s in paths["seconds"].items()}
    bare, prediction, synthesis = (seconds[CONTENDERS[i][0]] for i in (0, 1, 4))
    shape = paths["shape"]
    rows = [
        [
            name,
            Stat(**paths["seconds"][name]).show(),
            f"{paths['points'] / seconds[name]:,.0f}",
            f"{seconds[name] / bare:.2f}",
            f"{low[name] / low[CONTENDERS[0][0]]:.2f}",
            f"{paths['aten_calls_per_step'][name]:.0f}",
        ]
        for name, _, _ in CONTENDERS
    ]
    header = ["step", "s/step (CPU)", "points/s", "vs bare", "vs bare (fastest)", "ATen/step"]
    memory = [
        [
            m["label"],
            f"{m['peak_rss_mb']:,.0f} MB" if m.get("peak_rss_mb") else "-",
            str(m.get("wall")),
            f"{m['cpu_s']:.1f} s (system {m['system_s']:.1f} s)" if m.get("cpu_s") else "-",
        ]
        for m in r["memory"]
    ]
    return (
        f"LSTM paths (issue 12): {paths['shape'][0]} lines x {shape[1]} points of the "
        f"{r['paths_data']} corpus ({paths['points']:,} points), 3 x 400 with peephole cells "
        "(the bare loop without), 1 CPU thread, process CPU time, all in one process, "
        "alternating; median (min-max).\n\n"
        + table(header, rows)
        + "\n\n"
        + f"- prediction (paper clipping, fused) / bare loop: **{prediction / bare:.2f}** "
        + "(target <= 1.0)\n"
        + f"- synthesis / prediction (both fused, paper clipping): **{synthesis / prediction:.2f}**"
        + " (target <= 1.15)\n"
        + "- ATen/step: operators dispatched per time step, forward, backward and optimiser "
        + "(counted on a 2 x 40 batch)\n\n"
        + "Peak resident memory of `graves-data train handwriting` (3 x 400, peepholes, batch 32, "
        + f"whole lines, {r['memory'][0]['steps']} steps and one validation batch; "
        + "`/usr/bin/time -v`; target <= 1.5 GB):\n\n"
        + table(["run", "peak RSS", "wall", "CPU"], memory)
        + "\n"
    )


if __name__ == "__main__":
    main()
