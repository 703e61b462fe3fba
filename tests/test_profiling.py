"""`graves-data --profile FILE`: the program leaves with os._exit, and the profile is there,
holding the command's own functions."""

from __future__ import annotations

import os
import pstats
import subprocess
import sys
from pathlib import Path

import pytest

from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("profile") / "raw"
    synth_iam_ondb(folder, IamSynthParams(lines=40, seed=3), progress=False)
    return folder


def graves_data(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script's own way in (graves_data.cli.entry), so it ends with os._exit."""
    code = "from graves_data.cli import entry; entry()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def build_args(raw: Path, out: Path) -> list[str]:
    return ["build", "iam-ondb", "--raw", str(raw), "--out", str(out), "--workers", "1", "--quiet"]


def profiled_functions(path: Path) -> set[tuple[str, str]]:
    """(file name, function name) of every function a cProfile file lists."""
    stats = pstats.Stats(str(path))
    return {(Path(f).name, name) for f, _, name in stats.stats}  # type: ignore[attr-defined]


def test_profile_option_writes_cprofile_stats_of_the_build(raw: Path, tmp_path: Path) -> None:
    target = tmp_path / "build.prof"
    done = graves_data("--profile", str(target), *build_args(raw, tmp_path / "ds"))
    assert done.returncode == 0, done.stderr
    functions = profiled_functions(target)
    assert ("fastread.py", "fast_stroke_batch") in functions
    assert ("strokebatch.py", "clean_ink_batch") in functions
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build.prof.")]


def test_profile_from_the_environment_as_pyinstrument_text(raw: Path, tmp_path: Path) -> None:
    target = tmp_path / "build.txt"
    done = graves_data(*build_args(raw, tmp_path / "ds"), env={"GRAVES_DATA_PROFILE": str(target)})
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    assert "process_unit" in text and "units.py" in text


def test_profile_is_written_when_the_command_fails(tmp_path: Path) -> None:
    target = tmp_path / "failed.prof"
    done = graves_data("--profile", str(target), *build_args(tmp_path / "nowhere", tmp_path / "d"))
    assert done.returncode == 2
    assert "error:" in done.stderr
    assert ("cli.py", "command") in profiled_functions(target)


def test_profile_into_a_missing_folder_is_a_usage_error(raw: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "build.prof"
    done = graves_data("--profile", str(target), *build_args(raw, tmp_path / "ds"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    assert not (tmp_path / "ds").exists()
