"""DDP under torchrun: 2 CPU processes with the gloo backend, a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from graves_data.models.cli import main

pytestmark = pytest.mark.slow

TINY = ["--hidden", "12", "--layers", "2", "--batch-size", "4", "--no-progress", "--no-tensorboard"]


def _torchrun(*args: str) -> None:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "graves_data.models.cli",
        "--",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_ddp_text_run_resumes_exactly(text_data: Path, tmp_path: Path) -> None:
    base = ["train", "text", "--data", str(text_data), *TINY]
    _torchrun(*base, "--run", str(tmp_path / "whole"), "--steps", "6")
    _torchrun(*base, "--run", str(tmp_path / "resumed"), "--steps", "3")
    _torchrun(*base, "--run", str(tmp_path / "resumed"), "--steps", "6")
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert a["data"]["world"] == 2 and a["step"] == b["step"] == 6
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert len(a["ranks"]) == 2  # each process's carried state and RNG
    for rank in range(2):
        for (h1, c1), (h2, c2) in zip(
            a["ranks"][rank]["carry"], b["ranks"][rank]["carry"], strict=True
        ):
            assert torch.equal(h1, h2) and torch.equal(c1, c2)
    assert not torch.equal(a["ranks"][0]["carry"][0][0], a["ranks"][1]["carry"][0][0])
    # the two processes' validation shares add up to the whole split (cut into 8 streams
    # rather than 4, so the state starts afresh at other places: near, not equal)
    single = json.loads(
        CliRunner().invoke(main, ["eval", "--run", str(tmp_path / "whole"), "--json"]).output
    )
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["valid"]["chars"] == single["chars"]
    assert summary["valid"]["bits_per_char"] == pytest.approx(single["bits_per_char"], rel=1e-3)
    # one process cannot resume a two-process run: its share of the data would differ
    result = CliRunner().invoke(
        main, ["train", "text", "--run", str(tmp_path / "whole"), "--steps", "8"]
    )
    assert result.exit_code == 2 and "as many" in result.output


def test_ddp_handwriting_run(handwriting_data: Path, tmp_path: Path) -> None:
    _torchrun(
        "train",
        "synthesis",
        "--data",
        str(handwriting_data),
        "--run",
        str(tmp_path),
        "--steps",
        "3",
        "--window",
        "2",
        "--mixtures",
        "3",
        *TINY,
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["step"] == 3 and summary["valid"]["sequences"] == 32
