"""A full disk while a checkpoint is saved (issue 14, item 14): one clear error, the previous
checkpoint intact, no `checkpoint.pt.tmp` left. The disk is really full: the temporary name is
made a link to /dev/full, where every write fails with ENOSPC."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from graves_data.errors import GravesDataError
from graves_data.models.train import save_atomic

pytestmark = pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to make a write fail"
)


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_atomic({"step": 1, "w": torch.arange(4.0)}, path)
    before = path.read_bytes()
    tmp = tmp_path / "checkpoint.pt.tmp"
    tmp.symlink_to("/dev/full")
    with pytest.raises(GravesDataError, match="disk full while saving the checkpoint") as error:
        save_atomic({"step": 2, "w": torch.zeros(100_000)}, path)
    assert "previous checkpoint is kept" in str(error.value)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert not os.path.lexists(tmp)
    assert path.read_bytes() == before
    assert torch.load(path, weights_only=True)["step"] == 1


def test_a_full_disk_before_any_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    (tmp_path / "checkpoint.pt.tmp").symlink_to("/dev/full")
    with pytest.raises(GravesDataError, match="no checkpoint yet"):
        save_atomic({"step": 1}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_other_errors_keep_their_type_and_leave_nothing(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    (tmp_path / "checkpoint.pt.tmp").mkdir()  # cannot be opened as a file
    with pytest.raises(IsADirectoryError):
        save_atomic({"step": 1}, path)
    assert not path.exists()


def test_a_saved_checkpoint_loads_back(tmp_path: Path) -> None:
    state = {"step": 3, "w": torch.randn(5), "nested": {"a": [1, 2]}}
    save_atomic(state, tmp_path / "checkpoint.pt")
    loaded = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert loaded["step"] == 3 and torch.equal(loaded["w"], state["w"])
    assert loaded["nested"] == {"a": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
