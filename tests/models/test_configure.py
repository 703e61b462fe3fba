"""The resume rule, for Python callers as for `graves-data train`: a folder holding a trained
run keeps its saved configuration, changed only by what the caller names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graves_data.errors import UsageError
from graves_data.models.config import CHECKPOINT, CONFIG_FILE, configure
from graves_data.models.train import train

SMALL = {"hidden": 12, "layers": 1, "mixtures": 2, "batch_size": 4}
QUIET = {"progress": False, "tensorboard": False, "lr": 1e-3}


def test_a_new_run_takes_the_options_over_the_defaults(
    handwriting_data: Path, tmp_path: Path
) -> None:
    config = configure("handwriting", tmp_path / "run", data=str(handwriting_data), **SMALL)
    assert (config.model.hidden, config.model.layers, config.train.batch_size) == (12, 1, 4)
    assert config.model.peepholes  # a default the caller did not name
    with pytest.raises(UsageError, match="--data is required"):
        configure("handwriting", tmp_path / "other")
    with pytest.raises(UsageError, match="not an option of a handwriting run: hiden"):
        configure("handwriting", tmp_path / "run", data=str(handwriting_data), hiden=3)


def test_a_resumed_run_keeps_its_config_changed_only_by_the_options_named(
    handwriting_data: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    first = configure("handwriting", run, data=str(handwriting_data), steps=2, **SMALL, **QUIET)
    train(first, run)
    assert (run / CHECKPOINT).is_file() and (run / CONFIG_FILE).is_file()
    # no data, no model options: everything comes from the saved run; only steps changes
    again = configure("handwriting", run, steps=4)
    assert again.model == first.model and again.data == str(handwriting_data)
    assert again.train.steps == 4 and again.train.lr == 1e-3 and again.train.batch_size == 4
    summary = train(again, run)
    assert summary["step"] == 4
    with pytest.raises(UsageError, match="holds a handwriting run, not a text run"):
        configure("text", run)
    with pytest.raises(UsageError, match="other settings"):
        train(configure("handwriting", run, hidden=16), run)
