"""Fixtures of the reliability suite: one small generated corpus and its clean build, made
once per session; each test copies what it damages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graves_data.corpora.iam_ondb import build
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from tests.reliability.helpers import PARAMS, QUIET

# 40 lines, 7 forms, two of them in testset_v; one form per shard, so "the other shards" of a
# damaged build mean something
LINES = 40


@pytest.fixture(scope="session")
def base_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated IAM-OnDB release (folders), undamaged. Never modify it: copy it."""
    root = tmp_path_factory.mktemp("base") / "raw"
    synth_iam_ondb(root, IamSynthParams(lines=LINES, seed=0), progress=False)
    return root


@pytest.fixture(scope="session")
def clean_dataset(tmp_path_factory: pytest.TempPathFactory, base_raw: Path) -> Path:
    """The build of `base_raw`: what every damaged build is compared with."""
    out = tmp_path_factory.mktemp("clean") / "ds"
    build(base_raw, out, PARAMS, execution=QUIET)
    return out


@pytest.fixture
def raw_copy(tmp_path: Path, base_raw: Path) -> Path:
    """A private copy of the base corpus, to damage."""
    target = tmp_path / "raw"
    shutil.copytree(base_raw, target)
    return target


@pytest.fixture
def dataset_copy(tmp_path: Path, clean_dataset: Path) -> Path:
    """A private copy of the clean dataset, to damage."""
    target = tmp_path / "ds"
    shutil.copytree(clean_dataset, target, symlinks=True)
    return target
