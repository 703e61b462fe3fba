"""Shared fixtures: where the real samples are, and small helpers for built datasets."""

from __future__ import annotations

import shutil
import sysconfig
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RELEASE_STROKES = SHARED_DATA / "iam-ondb-release" / "lineStrokes-all.tar.gz"


def compiler() -> str | None:
    """The C compiler the install would build the optional extensions with, if there is one."""
    return shutil.which(str(sysconfig.get_config_var("CC") or "cc").split()[0])


def release_stroke_files() -> list[bytes]:
    """Every stroke file of the real IAM-OnDB release (12,195), in the archive's order, or a
    skip saying why (only the project's machines have the release)."""
    if not RELEASE_STROKES.is_file():
        pytest.skip(
            f"the real release {RELEASE_STROKES} is absent (only the project's machines have it)"
        )
    datas: list[bytes] = []
    with tarfile.open(RELEASE_STROKES) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".xml"):
                handle = archive.extractfile(member)
                assert handle is not None
                datas.append(handle.read())
    assert len(datas) == 12_195
    return datas


def shared_sample(name: str) -> Path:
    """A folder of ../shared/data, or a skip saying why (only the project's machines have it)."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real sample {path} is absent (it ships only with the project's machines)")
    return path


@pytest.fixture
def iam_sample() -> Path:
    return shared_sample("iam-ondb-sample")
