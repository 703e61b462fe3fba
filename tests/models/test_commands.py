"""The commands (`train ...`, `eval`, `sample`) and sampling, through click as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from graves_data.models.cli import main
from graves_data.models.config import SynthesisConfig
from graves_data.models.evaluate import load_run
from graves_data.models.sample import (
    sample_synthesis,
    window_focus,
    window_monotonic,
)
from graves_data.models.synthesis import HandwritingSynthesis

SMALL = ["--hidden", "24", "--layers", "2", "--mixtures", "4", "--batch-size", "8"]
QUIET = ["--no-progress", "--no-tensorboard", "--lr", "1e-3"]


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def synthesis_run(handwriting_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "synth"
    torch.set_num_threads(1)
    _invoke(
        "train",
        "synthesis",
        "--data",
        str(handwriting_data),
        "--run",
        str(run),
        "--steps",
        "8",
        "--window",
        "3",
        *SMALL,
        *QUIET,
    )
    return run


def test_train_eval_and_resume_from_the_command_line(
    handwriting_data: Path, tmp_path: Path
) -> None:
    run = tmp_path / "pred"
    out = _invoke(
        "train",
        "handwriting",
        "--data",
        str(handwriting_data),
        "--run",
        str(run),
        "--steps",
        "4",
        *SMALL,
        *QUIET,
    )
    assert "step 4" in out and "nll_per_sequence" in out
    # resuming needs no --data and keeps the saved sizes; --steps extends the run
    out = _invoke("train", "handwriting", "--run", str(run), "--steps", "6", "--no-progress")
    assert "step 6" in out
    report = json.loads(_invoke("eval", "--run", str(run), "--split", "valid", "--json"))
    assert report["step"] == 6 and report["sequences"] == 32
    assert set(report) >= {"nll_per_sequence", "nll_per_point", "sse_per_point"}
    assert "nll_per_sequence" in _invoke("eval", "--run", str(run))


def test_user_errors_are_one_line(handwriting_data: Path, text_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "train",
            "text",
            "--data",
            str(handwriting_data),
            "--run",
            str(tmp_path / "r"),
            "--steps",
            "1",
        ],
    )
    assert result.exit_code == 2 and "not a text dataset" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["train", "handwriting", "--run", str(tmp_path / "new")])
    assert result.exit_code == 2 and "--data is required" in result.output
    result = runner.invoke(
        main,
        [
            "train",
            "handwriting",
            "--data",
            str(handwriting_data),
            "--run",
            str(tmp_path / "r2"),
            "--steps",
            "1",
            "--epochs",
            "1",
        ],
    )
    assert result.exit_code == 2 and "not both" in result.output


def test_sample_synthesis_svg_png_and_heatmap(synthesis_run: Path, tmp_path: Path) -> None:
    out = _invoke(
        "sample",
        "--run",
        str(synthesis_run),
        "--text",
        "a bad cab",
        "--bias",
        "1.0",
        "--steps",
        "40",
        "--out",
        str(tmp_path / "fox.svg"),
    )
    assert "wrote" in out
    svg = (tmp_path / "fox.svg").read_text()
    assert svg.startswith("<?xml") and "<polyline" in svg
    assert (tmp_path / "fox.window.png").read_bytes()[:4] == b"\x89PNG"
    _invoke(
        "sample",
        "--run",
        str(synthesis_run),
        "--text",
        "hide",
        "--out",
        str(tmp_path / "hide.png"),
        "--steps",
        "20",
        "--heatmap",
        str(tmp_path / "w.png"),
    )
    assert (tmp_path / "hide.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "w.png").exists()


def test_sample_primed_with_a_line(
    synthesis_run: Path, handwriting_data: Path, tmp_path: Path
) -> None:
    out = _invoke(
        "sample",
        "--run",
        str(synthesis_run),
        "--text",
        "fig",
        "--prime",
        "va-00003",
        "--steps",
        "30",
        "--out",
        str(tmp_path / "primed.svg"),
    )
    assert "wrote" in out
    result = CliRunner().invoke(
        main,
        [
            "sample",
            "--run",
            str(synthesis_run),
            "--text",
            "fig",
            "--prime",
            "nope",
            "--out",
            str(tmp_path / "x.svg"),
        ],
    )
    assert result.exit_code == 2 and "no line 'nope'" in result.output


def test_sample_prediction_and_text(
    handwriting_data: Path, text_data: Path, tmp_path: Path
) -> None:
    _invoke(
        "train",
        "handwriting",
        "--data",
        str(handwriting_data),
        "--run",
        str(tmp_path / "p"),
        "--steps",
        "2",
        *SMALL,
        *QUIET,
    )
    _invoke(
        "sample", "--run", str(tmp_path / "p"), "--steps", "50", "--out", str(tmp_path / "u.svg")
    )
    _invoke(
        "sample",
        "--run",
        str(tmp_path / "p"),
        "--steps",
        "20",
        "--prime",
        "tr-00001",
        "--bias",
        "2",
        "--out",
        str(tmp_path / "primed.png"),
    )
    assert "<polyline" in (tmp_path / "u.svg").read_text()
    result = CliRunner().invoke(
        main,
        ["sample", "--run", str(tmp_path / "p"), "--text", "x", "--out", str(tmp_path / "x.svg")],
    )
    assert result.exit_code == 2 and "leave out --text" in result.output
    _invoke(
        "train",
        "text",
        "--data",
        str(text_data),
        "--run",
        str(tmp_path / "t"),
        "--steps",
        "2",
        "--hidden",
        "16",
        "--layers",
        "1",
        *QUIET,
    )
    _invoke(
        "sample",
        "--run",
        str(tmp_path / "t"),
        "--text",
        "the cat",
        "--steps",
        "30",
        "--out",
        str(tmp_path / "t.txt"),
    )
    assert (tmp_path / "t.txt").read_text(encoding="utf-8").startswith("the cat")
    report = json.loads(_invoke("eval", "--run", str(tmp_path / "t"), "--json", "--dynamic"))
    assert report["bits_per_char"] > 0 and report["dynamic"]["bits_per_char"] > 0


def test_synthesis_sampling_stops_at_the_end_of_the_text() -> None:
    """With kappa pushed forward quickly, the window leaves the text, and sampling stops there
    (phi(t, U + 1) > phi(t, u) for every u), long before max_steps."""
    torch.manual_seed(0)
    model = HandwritingSynthesis(
        SynthesisConfig(hidden=8, layers=1, mixtures=2, window=2, vocab_size=5, kappa_bias=-1.0)
    )
    ids = np.array([1, 2, 3, 4, 1, 2], dtype=np.int64)
    sample = sample_synthesis(
        model, ids, np.zeros((1, 3), np.float32), max_steps=500, text="abcdab"
    )
    assert sample.stopped and 3 < len(sample.offsets) < 500
    assert sample.phi is not None and sample.phi.shape == (len(sample.offsets), 6)
    assert window_monotonic(sample.phi)
    focus = window_focus(sample.phi)
    assert focus[-1] > focus[0] and sample.offsets[-1, 2] == 1.0


def test_window_monotonic_detects_a_backward_jump() -> None:
    phi = np.full((6, 4), 0.1, dtype=np.float32)
    phi[range(6), [0, 1, 2, 1, 3, 0]] = 1.0  # flickers back one character, then jumps back
    assert window_monotonic(phi[:5], glitch=0)
    assert not window_monotonic(phi, glitch=0)
    assert not window_monotonic(phi[:5], tolerance=0, glitch=0)
    # one step lighting the first character is a glitch; staying there is a move back
    steps = np.repeat(np.arange(8), 4)
    phi = np.full((32, 8), 0.1, dtype=np.float32)
    phi[range(32), steps] = 1.0
    phi[20] = 0.1
    phi[20, 0] = 1.0
    assert window_monotonic(phi) and not window_monotonic(phi, glitch=0)
    phi[20:26] = 0.1
    phi[20:26, 0] = 1.0
    assert not window_monotonic(phi)


def test_loaded_run_matches_the_trained_weights(synthesis_run: Path) -> None:
    loaded = load_run(synthesis_run)
    state = torch.load(synthesis_run / "checkpoint.pt", weights_only=True)
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, state["model"][name])


def test_the_commands_module_imports_without_torch() -> None:
    code = (
        "import sys; import graves_data.models.cli as c; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "print(sorted(cmd.name for cmd in c.COMMANDS))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['eval', 'sample', 'train']"


def test_registered_in_the_graves_data_command() -> None:
    from graves_data.cli import main as graves_data

    assert {"train", "eval", "sample"} <= set(graves_data.commands)
    result = CliRunner().invoke(graves_data, ["train", "text", "--help"])
    assert (
        result.exit_code == 0 and "--seq-len" not in result.output and "--hidden" in result.output
    )
