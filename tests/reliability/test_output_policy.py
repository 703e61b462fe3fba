"""Input and output never overlap; an existing dataset is replaced only with --overwrite, and
then atomically; a folder that is not a dataset is never touched."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from graves_data import storage
from graves_data.cli import main
from graves_data.corpora.iam_ondb import IamParams
from graves_data.errors import OutputExists, UsageError
from graves_data.pipelines import output
from graves_data.verify import verify
from tests.reliability.helpers import build_read, read_built

OTHER = IamParams(forms_per_shard=1, spike_threshold=500.0)  # another dataset of the same raw
# another dataset of the same shards: only a few lines' points differ, most shards are the same
SPIKES = IamParams(forms_per_shard=1, spike_threshold=300.0)


def content_hash(out: Path) -> str:
    return str(json.loads((out / "manifest.json").read_text())["content_hash"])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_building_into_the_raw_folder_is_refused_even_with_overwrite(raw_copy: Path) -> None:
    before = snapshot(raw_copy)
    for out in (raw_copy, raw_copy / "datasets" / "iam", raw_copy.parent):
        for overwrite in (False, True):
            with pytest.raises(UsageError, match="overlap"):
                build_read(raw_copy, out, overwrite=overwrite)
    assert snapshot(raw_copy) == before


def test_a_link_does_not_hide_the_overlap(raw_copy: Path, tmp_path: Path) -> None:
    (tmp_path / "alias").symlink_to(raw_copy, target_is_directory=True)
    with pytest.raises(UsageError, match="overlap"):
        build_read(raw_copy, tmp_path / "alias" / "ds")
    with pytest.raises(UsageError, match="overlap"):
        build_read(tmp_path / "alias", raw_copy / "ds")
    assert not (raw_copy / "ds").exists()


def test_an_output_that_is_a_file_is_a_clear_error(raw_copy: Path, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("mine")
    with pytest.raises(OutputExists, match="is a file"):
        build_read(raw_copy, target, overwrite=True)
    result = CliRunner().invoke(
        main, ["build", "iam-ondb", "--raw", str(raw_copy), "--out", str(target), "--quiet"]
    )
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert "Traceback" not in result.output and target.read_text() == "mine"


def test_a_folder_that_is_not_a_dataset_is_never_replaced(raw_copy: Path, tmp_path: Path) -> None:
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    for overwrite in (False, True):
        with pytest.raises(OutputExists, match="not a graves-data dataset"):
            build_read(raw_copy, mine, overwrite=overwrite)
    assert snapshot(mine) == {"thesis.tex": b"years of work"}


def test_a_dataset_of_other_parameters_needs_overwrite(
    raw_copy: Path, tmp_path: Path, clean_dataset: Path
) -> None:
    out = tmp_path / "ds"
    build_read(raw_copy, out)
    old = content_hash(out)
    with pytest.raises(OutputExists, match="other inputs or parameters"):
        build_read(raw_copy, out, OTHER)
    assert content_hash(out) == old and verify(out).ok


def test_a_same_build_resumes_without_overwrite(raw_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = build_read(raw_copy, out)
    again = build_read(raw_copy, out)
    assert again.manifest == first.manifest


def test_overwrite_swaps_atomically_and_the_old_dataset_is_intact_until_then(
    raw_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ds"
    build_read(raw_copy, out)
    old = content_hash(out)
    seen: dict[str, Any] = {}
    real = output.exchange_paths

    def watch(new: str, target: str) -> None:
        seen["out before"] = (content_hash(Path(target)), verify(target).ok)
        seen["staging"] = (Path(new).name, verify(new).ok)
        real(new, target)
        seen["out after"] = content_hash(Path(target))

    monkeypatch.setattr(output, "exchange_paths", watch)
    replaced = build_read(raw_copy, out, OTHER, overwrite=True)
    assert seen["out before"] == (old, True)
    assert seen["staging"] == (".ds.staging", True)
    assert seen["out after"] == replaced.manifest["content_hash"] != old
    assert verify(out).ok
    # no staging or old copy left; the records beside it are the new dataset's
    assert sorted(os.listdir(tmp_path)) == [".ds.build", "ds", "raw"]
    fresh = build_read(raw_copy, tmp_path.parent / f"{tmp_path.name}-fresh", OTHER)
    assert fresh.manifest["content_hash"] == replaced.manifest["content_hash"]


@pytest.mark.parametrize("supported", [True, False])
def test_exchange_paths_with_and_without_renameat2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, supported: bool
) -> None:
    if not supported:
        monkeypatch.setattr(storage, "_renameat2_exchange", lambda a, b: False)
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "n").write_text("new")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "o").write_text("old")
    storage.exchange_paths(str(tmp_path / "new"), str(tmp_path / "old"))
    assert os.listdir(tmp_path / "old") == ["n"] and os.listdir(tmp_path / "new") == ["o"]
    assert sorted(os.listdir(tmp_path)) == ["new", "old"]
    storage.exchange_paths(str(tmp_path / "new"), str(tmp_path / "absent"))
    assert sorted(os.listdir(tmp_path)) == ["absent", "old"]


def test_a_stale_staging_folder_of_another_build_is_cleared(raw_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    build_read(raw_copy, out)
    stale = tmp_path / ".ds.staging"
    stale.mkdir()
    (stale / "leftover").write_text("from a build of other parameters")
    replaced = build_read(raw_copy, out, OTHER, overwrite=True)
    assert not stale.exists() and verify(out).ok
    assert read_built(out).manifest == replaced.manifest


def test_a_staging_folder_left_by_a_kill_after_the_swap_is_cleared(
    raw_copy: Path, tmp_path: Path
) -> None:
    """Killed between the exchange and the removal, --overwrite leaves the old dataset in
    .ds.staging while ds is already the new one; the next run of that build clears it."""
    out = tmp_path / "ds"
    build_read(raw_copy, out)
    build_read(raw_copy, tmp_path / ".ds.staging", OTHER)
    build_read(raw_copy, out)
    assert sorted(os.listdir(tmp_path)) == [".ds.build", "ds", "raw"]  # staging, its records gone


class Killed(BaseException):
    """Stands in for SIGKILL: nothing on the way out catches it."""


def test_an_overwrite_killed_right_after_its_swap_resumes_to_the_new_dataset(
    raw_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the exchange and the removal of the old dataset, the staging folder holds
    the old dataset beside the new build's records. The next --overwrite resumes there, and no
    old shard may pass for a finished unit because its name and size fit (it once did)."""
    out = tmp_path / "ds"
    old = build_read(raw_copy, out, SPIKES)
    real = output.exchange_paths

    def exchange_then_die(new: str, target: str) -> None:
        real(new, target)
        raise Killed

    monkeypatch.setattr(output, "exchange_paths", exchange_then_die)
    with pytest.raises(Killed):
        build_read(raw_copy, out, overwrite=True)
    monkeypatch.undo()
    staging = tmp_path / ".ds.staging"
    new = read_built(out)
    assert content_hash(staging) == old.manifest["content_hash"] != new.manifest["content_hash"]
    # the old shards that the new records would have taken for their own on size alone
    sized = {f["path"]: f["bytes"] for s in new.manifest["splits"].values() for f in s["files"]}
    stale = [
        rel
        for rel, size in sized.items()
        if (staging / rel).exists()
        and (staging / rel).stat().st_size == size
        and (staging / rel).read_bytes() != (out / rel).read_bytes()
    ]
    assert stale, "the corpus should give an old shard of a new one's name and size"
    resumed = build_read(raw_copy, out, overwrite=True)
    assert verify(out).ok and resumed.manifest == new.manifest
    assert sorted(os.listdir(tmp_path)) == [".ds.build", "ds", "raw"]
    fresh = tmp_path.parent / f"{tmp_path.name}-fresh"
    build_read(raw_copy, fresh)
    assert snapshot(out) == snapshot(fresh)
