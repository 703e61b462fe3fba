"""Fixtures of the networks' tests: small datasets in the real format, one thread per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graves_data.synth.learnable import write_handwriting_dataset, write_text_dataset


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def handwriting_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """96 train and 32 valid lines of synthetic handwriting, 2 shards a split."""
    return write_handwriting_dataset(tmp_path_factory.mktemp("data") / "handwriting")


@pytest.fixture(scope="session")
def text_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 8000 train and 2000 valid bytes of grammar sentences in 20-byte chunks."""
    return write_text_dataset(tmp_path_factory.mktemp("data") / "text")


@pytest.fixture(scope="session")
def iam_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated IAM-OnDB corpus (80 lines: 46 train, 29 valid) built by the real pipeline."""
    from graves_data.corpora.iam_ondb import IamParams, build
    from graves_data.pipelines.runner import Execution
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    folder = tmp_path_factory.mktemp("iam")
    synth_iam_ondb(folder / "raw", IamSynthParams(lines=80), progress=False)
    build(
        str(folder / "raw"),
        str(folder / "dataset"),
        IamParams(),
        execution=Execution(workers=1, progress=False),
    )
    return folder / "dataset"


@pytest.fixture(scope="session")
def ptb_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Penn Treebank (400 sentences) built by the real pipeline, 50-char chunks."""
    from graves_data.corpora.ptb import PtbParams, build
    from graves_data.pipelines.runner import Execution
    from graves_data.synth.text import PtbSynthParams, write_ptb

    folder = tmp_path_factory.mktemp("ptb")
    write_ptb(folder / "raw", PtbSynthParams(lines=400))
    build(
        str(folder / "raw"),
        str(folder / "dataset"),
        PtbParams(seq_len=50),
        execution=Execution(workers=1, progress=False),
    )
    return folder / "dataset"
