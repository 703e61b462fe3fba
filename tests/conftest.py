"""Shared fixtures: where the real samples are, and small helpers for built datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_sample(name: str) -> Path:
    """A folder of ../shared/data, or a skip saying why (only the project's machines have it)."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real sample {path} is absent (it ships only with the project's machines)")
    return path


@pytest.fixture
def iam_sample() -> Path:
    return shared_sample("iam-ondb-sample")
