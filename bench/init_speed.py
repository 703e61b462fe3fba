"""How fast the prediction network learns from different initialisations, on identical batches.

Each variant trains the same network (same seed, so the same batches in the same order and the
same draws for the weights nn.LSTM initialises) for the same number of steps, then is scored on
the whole validation split. Variants:
- torch: nn.LSTM's and nn.Linear's defaults, two summed LSTM biases, zero peepholes (the
  initialisation graves-data used before issue 13);
- peepholes: the same with the peepholes drawn from U(-1/sqrt(H), 1/sqrt(H));
- uniform: every weight, peepholes and the output layer included, from U(-1/sqrt(H),
  1/sqrt(H)), one bias per gate (the second bias zero);
- default: whatever the current code does.

    python -m bench.init_speed --data ../real/iam-ondb --steps 120 --max-points 300 \
        --eval-batches 8 --variants torch,uniform
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from graves_data.models.config import LoaderConfig, PredictionConfig, RunConfig, TrainConfig
from graves_data.models.lstm import LSTMLayer
from graves_data.models.metrics import read_metrics
from graves_data.models.train import Trainer, prepare
from graves_data.schema import strict_json


def _uniform_(tensor: torch.Tensor, bound: float) -> None:
    with torch.no_grad():
        tensor.uniform_(-bound, bound)


def torch_init(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, LSTMLayer):
            module.lstm.reset_parameters()
            if module.peephole is not None:
                with torch.no_grad():
                    module.peephole.zero_()
        elif isinstance(module, nn.Linear):
            module.reset_parameters()


def peephole_init(model: nn.Module) -> None:
    torch_init(model)
    for module in model.modules():
        if isinstance(module, LSTMLayer) and module.peephole is not None:
            _uniform_(module.peephole, 1 / math.sqrt(module.hidden))


def uniform_init(model: nn.Module) -> None:
    hidden = next(m.hidden for m in model.modules() if isinstance(m, LSTMLayer))
    bound = 1 / math.sqrt(hidden)
    for module in model.modules():
        if isinstance(module, LSTMLayer):
            for name, param in module.lstm.named_parameters():
                if name.startswith("bias_hh"):
                    with torch.no_grad():
                        param.zero_()
                else:
                    _uniform_(param, bound)
            if module.peephole is not None:
                _uniform_(module.peephole, bound)
        elif isinstance(module, nn.Linear):
            _uniform_(module.weight, bound)
            _uniform_(module.bias, bound)


VARIANTS: dict[str, Callable[[nn.Module], None] | None] = {
    "default": None,
    "torch": torch_init,
    "peepholes": peephole_init,
    "uniform": uniform_init,
}


def run_variant(args: argparse.Namespace, name: str, folder: Path) -> dict[str, object]:
    config = prepare(
        RunConfig(
            task="handwriting",
            data=args.data,
            model=PredictionConfig(
                hidden=args.hidden, layers=args.layers, mixtures=20, peepholes=True
            ),
            train=TrainConfig(
                steps=args.steps,
                batch_size=args.batch_size,
                seed=args.seed,
                log_every=10,
                checkpoint_every=10**9,
                eval_batches=args.eval_batches,
                progress=False,
                tensorboard=False,
            ),
            loader=LoaderConfig(max_points=args.max_points),
        )
    )
    trainer = Trainer(config, folder)
    init = VARIANTS[name]
    if init is not None:
        torch.manual_seed(args.seed)
        init(trainer.model)
    started = time.perf_counter()
    summary = trainer.fit()
    seconds = time.perf_counter() - started
    curve = [
        (r["step"], r["value"])
        for r in read_metrics(folder)
        if r["split"] == "train" and r["name"] == "nll_per_point"
    ]
    return {
        "variant": name,
        "steps": summary["step"],
        "seconds": seconds,
        "valid_nll_per_point": summary["valid"]["nll_per_point"],
        "valid_nll_per_sequence": summary["valid"]["nll_per_sequence"],
        "train_nll_per_point": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-batches", type=int, default=None)
    parser.add_argument("--max-points", type=int, default=0, help="cut lines (0: whole)")
    parser.add_argument("--variants", default="torch,uniform")
    parser.add_argument("--out", default=None, help="JSON lines of the results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.variants.split(","):
        with tempfile.TemporaryDirectory() as folder:
            result = run_variant(args, name, Path(folder))
        line = strict_json(result)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")


if __name__ == "__main__":
    main()
