"""`--pass-points`: a batch run in pieces of whole lines takes the same optimiser step as one
pass over it (gradients and sums), with the paper's clipping and with weight noise, while no
piece holds more points than the budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graves_data.errors import UsageError
from graves_data.models.config import (
    LoaderConfig,
    PredictionConfig,
    RunConfig,
    SynthesisConfig,
    TrainConfig,
)
from graves_data.models.data import HandwritingBatch, make_loader
from graves_data.models.train import Trainer, prepare

MODELS = {
    "handwriting": PredictionConfig(hidden=24, layers=2, mixtures=4),
    "synthesis": SynthesisConfig(hidden=24, layers=2, mixtures=4, window=3),
}


def _batch(lengths: list[int]) -> HandwritingBatch:
    steps = max(lengths)
    mask = torch.zeros(len(lengths), steps)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1.0
    points = torch.randn(len(lengths), steps, 3) * mask.unsqueeze(-1)
    text = torch.randint(1, 9, (len(lengths), 5))
    return HandwritingBatch(
        points,
        points.roll(-1, 1),
        mask,
        text,
        torch.ones(len(lengths), 5),
        tuple(f"line-{row}" for row in range(len(lengths))),
    )


@pytest.mark.parametrize("budget", [1, 7, 20, 33, 60])
def test_pieces_are_consecutive_whole_lines_within_the_budget(budget: int) -> None:
    lengths = [5, 3, 7, 2, 6, 6, 1, 4, 7, 3]
    batch = _batch(lengths)
    pieces = batch.pieces(budget)
    assert sum((p.line_ids for p in pieces), ()) == batch.line_ids
    start = 0
    for piece in pieces:
        rows, steps = piece.mask.shape
        assert rows == 1 or rows * max(lengths) <= budget
        stop = start + rows
        assert steps == max(lengths[start:stop])  # cut to its longest line, no further
        assert torch.equal(piece.inputs, batch.inputs[start:stop, :steps])
        assert torch.equal(piece.targets, batch.targets[start:stop, :steps])
        assert torch.equal(piece.text, batch.text[start:stop])
        # nothing but padding was cut
        assert piece.mask.sum() == batch.mask[start:stop].sum()
        start = stop
    if budget >= len(lengths) * max(lengths):
        assert pieces == [batch]


def test_no_budget_is_one_pass() -> None:
    batch = _batch([4, 9, 2])
    assert batch.pieces(0) == [batch]


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(UsageError, match="--pass-points"):
        TrainConfig(pass_points=-1).check()


def _trainer(task: str, data: Path, run: Path, **train: object) -> Trainer:
    options = {"batch_size": 16, "lr": 1e-3, "progress": False, "tensorboard": False, **train}
    config = prepare(
        RunConfig(
            task=task,  # type: ignore[arg-type]
            data=str(data),
            model=MODELS[task],
            train=TrainConfig(**options),  # type: ignore[arg-type]
            loader=LoaderConfig(shuffle_buffer=32),
        )
    )
    return Trainer(config, run)


def _gradients(trainer: Trainer) -> dict[str, torch.Tensor]:
    found = {n: p.grad for n, p in trainer.model.named_parameters() if p.grad is not None}
    if trainer.noise is not None:
        found |= {
            f"noise.{n}": p.grad for n, p in trainer.noise.named_parameters() if p.grad is not None
        }
    return {n: g.detach().clone() for n, g in found.items()}


@pytest.mark.parametrize(
    ("task", "noise"),
    [
        ("handwriting", "none"),
        ("synthesis", "none"),
        ("handwriting", "0.05"),
        ("synthesis", "adaptive"),
    ],
)
def test_a_step_in_pieces_equals_one_pass(
    task: str, noise: str, handwriting_data: Path, tmp_path: Path
) -> None:
    # a tight bound, so that the paper's clipping is active on many derivatives
    options = {"lstm_clip": 0.05, "output_clip": 1.0, "weight_noise": noise}
    whole = _trainer(task, handwriting_data, tmp_path / "whole", pass_points=0, **options)
    batch = next(iter(make_loader(whole.task.stream(whole.train_split, train=True), 0)))
    assert batch.mask.shape[0] == 16
    steps = batch.mask.shape[1]
    budget = 5 * steps  # pieces of at most 5 lines: 4 of the 16
    pieced = _trainer(task, handwriting_data, tmp_path / "pieced", pass_points=budget, **options)
    assert len(pieced.task.pieces(batch, budget)) == 4

    sums_whole, sums_pieced = whole.train_step(batch), pieced.train_step(batch)
    for key, value in sums_whole.items():
        torch.testing.assert_close(sums_pieced[key], value, rtol=1e-5, atol=1e-4)
    expected, got = _gradients(whole), _gradients(pieced)
    assert expected.keys() == got.keys() and len(expected) > 4
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    for (name, p), q in zip(whole.model.named_parameters(), pieced.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-7, msg=name)


def test_the_clipping_the_pieces_keep_is_active(handwriting_data: Path, tmp_path: Path) -> None:
    """The bound of the test above changes the gradients: the pieces keep a clipping that acts."""
    tight = _trainer("handwriting", handwriting_data, tmp_path / "a", lstm_clip=0.05)
    loose = _trainer("handwriting", handwriting_data, tmp_path / "b", lstm_clip=1e6)
    batch = next(iter(make_loader(tight.task.stream(tight.train_split, train=True), 0)))
    tight.train_step(batch)
    loose.train_step(batch)
    a, b = _gradients(tight), _gradients(loose)
    assert any(not torch.allclose(a[n], b[n], rtol=1e-3, atol=1e-6) for n in a)
