"""A shard damaged after the build (issue 14, item 17): `stats`, `show` and `train` end in one
line that names the file and says to run `graves-data verify`, not a pyarrow or polars
traceback; training stops before its first step, not after a checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.errors import DatasetError
from graves_data.models.data import row_groups
from graves_data.shards import open_dataset
from graves_data.stats import compute
from graves_data.synth.learnable import write_handwriting_dataset, write_text_dataset

MANIFEST = "manifest.json"


def shard(dataset: Path, split: str, index: int = 0) -> Path:
    manifest = json.loads((dataset / MANIFEST).read_text())
    return dataset / manifest["splits"][split]["files"][index]["path"]


def truncate(path: Path) -> None:
    """Half the file: its footer (and the magic bytes that end it) gone."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def overwrite_middle(path: Path) -> None:
    """The footer intact, the pages in the middle overwritten: it opens, and fails to decode."""
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    start, end = 4, len(data) - footer
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))


def one_line(result_output: str) -> str:
    lines = [line for line in result_output.splitlines() if line.strip()]
    assert len(lines) == 1, result_output
    assert "Traceback" not in result_output
    return lines[0]


@pytest.fixture(scope="module")
def handwriting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_handwriting_dataset(
        tmp_path_factory.mktemp("hw") / "ds", {"train": 24, "valid": 8}, row_group_rows=4
    )


@pytest.fixture
def damaged(handwriting: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ds"
    shutil.copytree(handwriting, target)
    return target


@pytest.mark.parametrize("damage", [truncate, overwrite_middle], ids=["truncated", "zeroed"])
def test_stats_names_the_shard_and_verify(damaged: Path, damage: object) -> None:
    path = shard(damaged, "valid")
    damage(path)  # type: ignore[operator]
    result = CliRunner().invoke(main, ["stats", str(damaged)])
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert "graves-data verify" in line
    assert path.name in line or "split 'valid'" in line, line


def test_stats_of_a_truncated_text_shard(tmp_path: Path) -> None:
    data = write_text_dataset(tmp_path / "text", {"train": 2000, "valid": 600})
    path = shard(data, "train", 1)
    truncate(path)
    with pytest.raises(DatasetError, match=f"{path.name}.*graves-data verify"):
        compute(str(data))


def test_plots_of_a_truncated_shard(damaged: Path, tmp_path: Path) -> None:
    path = shard(damaged, "train", 1)
    truncate(path)
    result = CliRunner().invoke(main, ["stats", str(damaged), "--plots", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert path.name in one_line(result.output)


def test_the_trainer_reader_names_the_shard(damaged: Path) -> None:
    path = shard(damaged, "train", 1)
    truncate(path)
    with pytest.raises(DatasetError, match=f"{path.name}.*graves-data verify"):
        row_groups(open_dataset(str(damaged)), "train")


def test_train_stops_with_one_line_before_any_checkpoint(damaged: Path, tmp_path: Path) -> None:
    """The validation shard is truncated: training must not run, save a checkpoint, and only
    then fail in a traceback when it first validates."""
    path = shard(damaged, "valid")
    truncate(path)
    run = tmp_path / "run"
    args = ["train", "handwriting", "--data", str(damaged), "--run", str(run), "--steps", "4"]
    small = ["--hidden", "8", "--layers", "1", "--mixtures", "2", "--batch-size", "4"]
    quiet = ["--no-progress", "--no-tensorboard", "--checkpoint-every", "1", "--eval-every", "2"]
    result = CliRunner().invoke(main, [*args, *small, *quiet])
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert path.name in line and "graves-data verify" in line, line


def test_show_names_the_shard(damaged: Path, tmp_path: Path) -> None:
    path = shard(damaged, "valid")
    truncate(path)
    out = str(tmp_path / "line.svg")
    result = CliRunner().invoke(main, ["show", str(damaged), "va-00007", "--out", out])
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert path.name in line and "graves-data verify" in line, line
