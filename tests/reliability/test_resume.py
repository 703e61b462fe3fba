"""Re-running a build skips finished work, and a changed input redoes exactly what it touches:
the result is always the bytes of a fresh build."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from graves_data.corpora.iam_ondb import IamParams, build
from graves_data.errors import OutputExists
from graves_data.verify import verify
from tests.reliability.helpers import (
    PARAMS,
    QUIET,
    Built,
    build_read,
    listed,
    stroke_path,
    transcription_path,
)


def sidecar_times(out: Path) -> dict[str, int]:
    units = out.parent / f".{out.name}.build" / "units"
    return {p.stem: p.stat().st_mtime_ns for p in units.iterdir()}


def rerun(raw: Path, out: Path, caplog: pytest.LogCaptureFixture) -> tuple[Built, set[str]]:
    """Build again; return the result and the units that ran (their sidecars were rewritten)."""
    before = sidecar_times(out)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="graves_data.pipelines"):
        built = build_read(raw, out)
    after = sidecar_times(out)
    ran = {unit for unit, mtime in after.items() if before.get(unit) != mtime}
    summary = [r.getMessage() for r in caplog.records if "kept from an earlier run" in r.message]
    assert summary == [
        f"build iam-ondb: {len(after)} units, {len(ran)} run, "
        f"{len(after) - len(ran)} kept from an earlier run"
    ]
    return built, ran


def assert_same_bytes(out: Path, fresh: Path) -> None:
    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and ".build" not in p.parts
        }

    assert files(out) == files(fresh)


@pytest.fixture
def built_copy(raw_copy: Path, tmp_path: Path) -> Path:
    """A finished build of this test's own copy of the corpus."""
    out = tmp_path / "ds"
    build_read(raw_copy, out)
    return out


def test_a_rerun_with_nothing_changed_runs_no_unit(
    raw_copy: Path, built_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = (built_copy / "manifest.json").read_bytes()
    _, ran = rerun(raw_copy, built_copy, caplog)
    assert ran == set()
    assert (built_copy / "manifest.json").read_bytes() == before


def test_a_changed_stroke_file_redoes_only_its_unit(
    raw_copy: Path, built_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    form = listed(raw_copy, "testset_v")[-1]
    path = stroke_path(raw_copy, f"{form}-02")
    path.write_bytes(path.read_bytes().replace(b'x="1', b'x="2', 1))
    _, ran = rerun(raw_copy, built_copy, caplog)
    assert len(ran) == 1 and ran <= {"valid-00000", "valid-00001"}
    fresh = tmp_path / "fresh"
    build_read(raw_copy, fresh)
    assert_same_bytes(built_copy, fresh)


def test_a_changed_transcription_redoes_its_unit(
    raw_copy: Path, built_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A validation form's text changes without changing the vocabulary: before the fix the
    unit was kept, and its shard held the old text (not what a fresh build writes)."""
    form = listed(raw_copy, "testset_v")[-1]
    path = transcription_path(raw_copy, form)
    head, csr = path.read_bytes().split(b"CSR:", 1)
    words = csr.split(b" ")
    words[1], words[2] = words[2], words[1]
    path.write_bytes(head + b"CSR:" + b" ".join(words))
    _, ran = rerun(raw_copy, built_copy, caplog)
    assert len(ran) == 1
    fresh = tmp_path / "fresh"
    build_read(raw_copy, fresh)
    assert_same_bytes(built_copy, fresh)


def test_a_training_text_edit_that_keeps_the_symbols_redoes_one_unit(
    raw_copy: Path, built_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The vocabulary's counts change (vocab.json is rewritten) but no id does: the other
    units' shards stay valid and are kept."""
    form = listed(raw_copy, "trainset")[0]
    path = transcription_path(raw_copy, form)
    head, csr = path.read_bytes().split(b"CSR:", 1)
    path.write_bytes(head + b"CSR:" + csr.replace(b"e", b"", 1))
    _, ran = rerun(raw_copy, built_copy, caplog)
    assert len(ran) == 1
    fresh = tmp_path / "fresh"
    build_read(raw_copy, fresh)
    assert_same_bytes(built_copy, fresh)


def test_a_deleted_shard_is_rebuilt(
    raw_copy: Path, built_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    victim = sorted((built_copy / "data").iterdir())[0]
    expected = victim.read_bytes()
    victim.unlink()
    _, ran = rerun(raw_copy, built_copy, caplog)
    assert len(ran) == 1 and victim.read_bytes() == expected


def test_a_shard_changed_in_place_at_the_same_size_is_rebuilt(
    raw_copy: Path, built_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A finished unit is kept only if its shard's bytes hash to what its record says: a size
    that fits is not enough (a bit flipped on disk, an old dataset's shard of the same name)."""
    victims = sorted((built_copy / "data").iterdir())
    expected = {p.name: p.read_bytes() for p in victims}
    victim = victims[len(victims) // 2]
    data = bytearray(expected[victim.name])
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    _, ran = rerun(raw_copy, built_copy, caplog)
    assert len(ran) == 1
    assert {p.name: p.read_bytes() for p in (built_copy / "data").iterdir()} == expected
    assert verify(built_copy).ok


def test_a_corrupt_sidecar_redoes_its_unit(
    raw_copy: Path, built_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sidecar = sorted((built_copy.parent / ".ds.build" / "units").iterdir())[0]
    sidecar.write_text("{not json")
    before = {p.name: p.read_bytes() for p in (built_copy / "data").iterdir()}
    _, ran = rerun(raw_copy, built_copy, caplog)
    assert ran == {sidecar.stem}
    assert {p.name: p.read_bytes() for p in (built_copy / "data").iterdir()} == before


def test_a_moved_raw_folder_is_another_build(raw_copy: Path, built_copy: Path) -> None:
    """The identity includes where the raw data is: the same files elsewhere are refused
    (they may be a different copy), rather than silently resumed."""
    moved = raw_copy.parent / "moved"
    shutil.copytree(raw_copy, moved)
    with pytest.raises(OutputExists):
        build_read(moved, built_copy)


def test_a_finished_dataset_holds_only_what_its_manifest_names(
    raw_copy: Path, built_copy: Path
) -> None:
    """The resume records live beside the dataset (`.ds.build`), not in it: a `.build/` inside
    was copied and uploaded with the dataset although nothing reads it."""
    manifest = json.loads((built_copy / "manifest.json").read_text())
    named = {f["path"] for split in manifest["splits"].values() for f in split["files"]}
    found = {str(p.relative_to(built_copy)) for p in built_copy.rglob("*") if p.is_file()}
    assert found == named | {"manifest.json", "vocab.json", "README.md"}
    assert (built_copy.parent / ".ds.build" / "plan.json").is_file()


def test_an_overwrite_leaves_the_records_of_the_new_dataset(
    raw_copy: Path, built_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After --overwrite swaps the new dataset in, its records are the ones beside it: a re-run
    of the same build runs no unit, and no staging folder or its records are left."""
    other = IamParams(forms_per_shard=PARAMS.forms_per_shard + 1)
    build(raw_copy, built_copy, other, execution=QUIET, overwrite=True)
    leftovers = {p.name for p in built_copy.parent.iterdir()}
    assert leftovers == {"ds", ".ds.build", raw_copy.name}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="graves_data.pipelines"):
        build(raw_copy, built_copy, other, execution=QUIET)
    summary = [r.getMessage() for r in caplog.records if "kept from an earlier run" in r.message]
    assert len(summary) == 1 and " 0 run, " in summary[0]
