"""CUDA with bfloat16 autocast: a few steps, evaluation and sampling on the GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from graves_data.models.cli import main

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("clip", ["paper", "norm"])
def test_synthesis_on_cuda_with_amp(handwriting_data: Path, tmp_path: Path, clip: str) -> None:
    run = str(tmp_path / "run")
    _invoke(
        "train",
        "synthesis",
        "--data",
        str(handwriting_data),
        "--run",
        run,
        "--steps",
        "4",
        "--hidden",
        "32",
        "--layers",
        "2",
        "--mixtures",
        "4",
        "--window",
        "3",
        "--clip",
        clip,
        "--device",
        "cuda",
        "--amp",
        "--no-progress",
        "--no-tensorboard",
        "--lr",
        "1e-3",
    )
    report = json.loads(_invoke("eval", "--run", run, "--device", "cuda", "--json"))
    assert report["nll_per_point"] == report["nll_per_point"]  # not nan
    _invoke(
        "sample",
        "--run",
        run,
        "--device",
        "cuda",
        "--text",
        "bad",
        "--steps",
        "30",
        "--out",
        str(tmp_path / "s.svg"),
    )
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert all(t.dtype == torch.float32 for t in state["model"].values())


def test_text_on_cuda_carries_state(text_data: Path, tmp_path: Path) -> None:
    run = str(tmp_path / "run")
    _invoke(
        "train",
        "text",
        "--data",
        str(text_data),
        "--run",
        run,
        "--steps",
        "6",
        "--hidden",
        "32",
        "--layers",
        "2",
        "--device",
        "cuda",
        "--no-progress",
        "--no-tensorboard",
    )
    _invoke("train", "text", "--run", run, "--steps", "8", "--device", "cuda", "--no-progress")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["step"] == 8
