"""A full disk during a build: one clear line naming the file, exit 2, no temporary file and no
manifest left; once space is back, the same command resumes and ends byte-identical to a build
that never failed.

The full disk is simulated where every output is written (`Location.write_atomic`'s file
handle): the chosen file's writes fail with ENOSPC after half its bytes went to disk, as a real
full disk fails a write part-way. The pool's workers are forked, so they inherit the patch.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from graves_data import storage
from graves_data.cli import main
from graves_data.synth.text import Enwik8SynthParams, write_enwik8


class FullDiskFile:
    """A binary file that takes the first half of what is written, then fails as a full disk."""

    def __init__(self, path: str, code: int) -> None:
        self._file = builtins.open(path, "wb")  # noqa: SIM115 (closed by __exit__)
        self._code = code

    def __enter__(self) -> FullDiskFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def write(self, data: bytes) -> int:
        self._file.write(data[: len(data) // 2])
        self._file.flush()
        raise OSError(self._code, os.strerror(self._code))

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()


def full_disk_for(match: Callable[[str], bool], code: int = errno.ENOSPC) -> Callable[..., Any]:
    def fake_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and match(os.fspath(path)):
            return FullDiskFile(os.fspath(path), code)
        return builtins.open(path, mode, *args, **kwargs)

    return fake_open


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("enwik8-raw")
    write_enwik8(folder, Enwik8SynthParams(size=60_000, seed=2))
    return folder


def build(raw: Path, out: Path, workers: int = 1) -> Any:
    args = ["build", "enwik8", "--raw", str(raw), "--out", str(out), "--shard-mb", "0.01"]
    return CliRunner().invoke(main, [*args, "--workers", str(workers), "--quiet"])


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob("*") if storage.TMP_MARK in p.name)


@pytest.mark.parametrize(
    ("where", "target", "code", "workers"),
    [
        ("a shard, in a worker", "valid-00000-of-", errno.ENOSPC, 2),
        ("a shard, quota spent", "train-00002-of-", errno.EDQUOT, 1),
        ("the manifest, last", "manifest.json", errno.ENOSPC, 1),
        ("the vocabulary", "vocab.json", errno.ENOSPC, 1),
    ],
)
def test_a_full_disk_is_one_line_and_the_rerun_resumes(
    raw: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    target: str,
    code: int,
    workers: int,
) -> None:
    clean = tmp_path / "clean"
    assert build(raw, clean).exit_code == 0
    out = tmp_path / "ds"
    with monkeypatch.context() as patch:
        patch.setattr(storage, "open", full_disk_for(lambda p: target in p), raising=False)
        failed = build(raw, out, workers)
    assert failed.exit_code == 2, failed.output
    lines = failed.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), failed.output
    assert target in lines[0] and "no space left on the device" in lines[0]
    assert "run the same command again" in lines[0]
    assert leftovers(out) == [] and not (out / "manifest.json").exists()

    again = build(raw, out, workers)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "manifest.json").read_text()) == json.loads(
        (clean / "manifest.json").read_text()
    )
    for path in sorted(clean.rglob("*.parquet")):
        assert (out / path.relative_to(clean)).read_bytes() == path.read_bytes()


def test_other_write_errors_are_not_disguised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a full disk or a spent quota becomes DiskFull; any other OSError keeps its own
    type (and the temporary file is removed all the same)."""
    monkeypatch.setattr(storage, "open", full_disk_for(lambda p: True, errno.EIO), raising=False)
    target = storage.resolve(tmp_path / "x.bin")
    with pytest.raises(OSError) as caught:
        target.write_atomic(b"0123456789")
    assert caught.value.errno == errno.EIO
    assert list(tmp_path.iterdir()) == []
