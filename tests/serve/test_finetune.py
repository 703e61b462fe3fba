"""Your own lines into a run: InkML built with the run's vocabulary, then `train --init-from`
starts from the run's weights (and refuses a dataset whose vocabulary is not the run's)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.corpora.ink import InkParams, build, export_inkml
from graves_data.pipelines.runner import Execution

QUIET = Execution(workers=1, progress=False)


def train(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["train", "synthesis", *args, "--no-progress",
                                       "--no-tensorboard", "--threads", "1"])  # fmt: skip
    return result.exit_code, result.output


def test_fine_tune_starts_from_the_run(
    iam_dataset: Path, synthesis_run: Path, tmp_path: Path
) -> None:
    export_inkml(str(iam_dataset), str(tmp_path / "lines"))
    params = InkParams(vocab=str(synthesis_run / "vocab.json"))
    build(str(tmp_path / "lines"), str(tmp_path / "mine"), params, execution=QUIET)
    code, output = train("--data", str(tmp_path / "mine"), "--run", str(tmp_path / "tuned"),
                         "--init-from", str(synthesis_run), "--steps", "0")  # fmt: skip
    assert code == 0, output
    before = torch.load(synthesis_run / "checkpoint.pt", weights_only=True)["model"]
    after = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=True)["model"]
    assert before.keys() == after.keys()
    for name in before:
        torch.testing.assert_close(before[name], after[name], rtol=0, atol=0)
    code, output = train("--data", str(tmp_path / "mine"), "--run", str(tmp_path / "tuned2"),
                         "--init-from", str(synthesis_run), "--steps", "2", "--batch-size", "4",
                         "--eval-batches", "1")  # fmt: skip
    assert code == 0, output
    moved = torch.load(tmp_path / "tuned2" / "checkpoint.pt", weights_only=True)["model"]
    assert any(not torch.equal(before[n], moved[n]) for n in before)


def test_fine_tune_refuses_another_vocabulary(synthesis_run: Path, tmp_path: Path) -> None:
    from graves_data.corpora.ink import write_inkml

    (tmp_path / "lines").mkdir()
    for i in range(3):
        strokes = [[[0, 0, 1.0], [10 + i, 5, 1.1], [20, 0, 1.2]]]
        (tmp_path / "lines" / f"l{i}.inkml").write_bytes(write_inkml(strokes, "zz"))
    build(str(tmp_path / "lines"), str(tmp_path / "mine"), InkParams(), execution=QUIET)
    code, output = train("--data", str(tmp_path / "mine"), "--run", str(tmp_path / "tuned"),
                         "--init-from", str(synthesis_run), "--steps", "1")  # fmt: skip
    assert code != 0
    assert "--vocab" in output


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
