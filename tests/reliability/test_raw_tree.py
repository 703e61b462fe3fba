"""The raw tree walked by the inventory (issue 14 items 1-4; issue 15 item 3): special files,
links out of --raw, names that are not UTF-8 and unreadable inputs each get a clear answer.

Every case damages a copy of the generated corpus. A case that could hang or needs other
privileges runs the build in a child process with a timeout, so a regression fails instead of
blocking the suite.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from graves_data.corpora.iam_ondb import inventory
from graves_data.corpora.iam_ondb.params import TASK_ZIP
from graves_data.errors import NotACorpus
from graves_data.storage import resolve
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from tests.reliability.helpers import (
    Built,
    assert_nothing_else_changed,
    build_read,
    listed,
    read_built,
    rel,
    stroke_path,
    transcription_path,
)

# a hang is a failure: no build of 40 lines takes this long, even on a loaded machine
TIMEOUT_S = 180
SETPRIV = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)


@pytest.fixture(scope="module")
def clean(clean_dataset: Path) -> Built:
    return read_built(clean_dataset)


@pytest.fixture(scope="module")
def form(base_raw: Path) -> str:
    return listed(base_raw, "testset_v")[-1]


def build_in_child(
    raw: Path, out: Path, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`graves-data build iam-ondb` in its own process; TimeoutExpired (a failure) if it hangs."""
    command = [
        *prefix,
        sys.executable,
        "-m",
        "graves_data.cli",
        "build",
        "iam-ondb",
        "--raw",
        str(raw),
        "--out",
        str(out),
        "--workers",
        "1",
        "--forms-per-shard",
        "1",
        "--quiet",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


# ---------------------------------------------------------------------------------------------
# item 1: special files named like inputs at the top of --raw are refused, never opened


@pytest.mark.parametrize(
    "name, remove",
    [
        ("testset_v.txt", None),
        (TASK_ZIP, "lists"),
        ("ascii-all.tar.gz", "ascii"),
    ],
)
def test_a_fifo_named_like_a_top_level_input_is_refused_without_blocking(
    raw_copy: Path, tmp_path: Path, name: str, remove: str | None
) -> None:
    if remove == "lists":
        for listed_file in raw_copy.glob("*.txt"):
            listed_file.unlink()
    elif remove is not None:
        shutil.rmtree(raw_copy / remove)
    (raw_copy / name).unlink(missing_ok=True)
    os.mkfifo(raw_copy / name)
    result = build_in_child(raw_copy, tmp_path / "out")
    assert_one_clear_line(result, name, "not-a-file")
    assert not (tmp_path / "out" / "manifest.json").exists()


# ---------------------------------------------------------------------------------------------
# item 2: nothing outside --raw is read, whatever a link at the top points at


class Opened:
    """Every path this process opens while `active` (an audit hook cannot be removed, so it
    is installed once and switched)."""

    paths: ClassVar[list[str]] = []
    active: ClassVar[bool] = False
    installed: ClassVar[bool] = False

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.active and event == "open" and isinstance(args[0], (str, bytes)):
            cls.paths.append(os.path.realpath(os.fsdecode(args[0])))


@pytest.fixture
def opened() -> Iterator[list[str]]:
    if not Opened.installed:
        sys.addaudithook(Opened.hook)
        Opened.installed = True
    Opened.paths = []
    Opened.active = True
    try:
        yield Opened.paths
    finally:
        Opened.active = False


@pytest.mark.parametrize("name", ["testset_v.txt", "ascii", "lineStrokes"])
def test_a_top_level_link_out_of_the_raw_folder_is_refused_unread(
    raw_copy: Path, tmp_path: Path, opened: list[str], name: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / name
    (raw_copy / name).rename(target)
    (raw_copy / name).symlink_to(target, target_is_directory=target.is_dir())
    with pytest.raises(NotACorpus, match=rf"{name}: a symbolic link to .*outside --raw"):
        build_read(raw_copy, tmp_path / "out")
    reads = [path for path in opened if path.startswith(str(outside.resolve()))]
    assert reads == [], f"read outside --raw: {reads}"
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_link_inside_the_raw_folder_and_raw_itself_a_link_are_followed(
    raw_copy: Path, clean: Built, tmp_path: Path
) -> None:
    """--raw is what the user named, so it may be a link; a split list linked to a copy kept
    inside --raw reads nothing outside and builds the same dataset."""
    kept = raw_copy / "lists"
    kept.mkdir()
    (raw_copy / "testset_v.txt").rename(kept / "testset_v.txt")
    (raw_copy / "testset_v.txt").symlink_to(kept / "testset_v.txt")
    linked = tmp_path / "linked"
    linked.symlink_to(raw_copy, target_is_directory=True)
    damaged = build_read(linked, tmp_path / "out")
    assert_nothing_else_changed(clean, damaged)
    assert damaged.shard_sha() == clean.shard_sha()


# ---------------------------------------------------------------------------------------------
# item 3: names that are not UTF-8


def odd(name: bytes) -> str:
    """A file name holding bytes that are not UTF-8, as Python's os functions take it."""
    return os.fsdecode(name)


def test_names_that_are_not_utf8_are_quarantined_escaped(
    raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    strokes = stroke_path(raw_copy, f"{form}-01").parent
    (strokes / odd(b"caf\xe9.xml")).write_bytes(b"<x/>")
    folder = transcription_path(raw_copy, form).parent / odd(b"d\xff")
    folder.mkdir()
    (folder / "notes.txt").write_text("a note")
    original = next((raw_copy / "original").rglob("strokes*.xml"))
    (original.parent / odd(b"\x80\x81")).write_bytes(b"junk")
    damaged = build_read(raw_copy, tmp_path / "out")
    base = rel(raw_copy, strokes)
    expected = {
        (f"{base}/caf\\xe9.xml", "bad-name"),
        (rel(raw_copy, folder.parent) + "/d\\xff", "bad-name"),
        (rel(raw_copy, original.parent) + "/\\x80\\x81", "bad-name"),
    }
    assert_nothing_else_changed(clean, damaged, set(), expected)
    text = (tmp_path / "out" / "manifest.json").read_bytes().decode("utf-8")  # strict UTF-8

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    assert json.loads(text, parse_constant=refuse)["quarantine"]
    assert "folder name is not UTF-8" in damaged.reason(rel(raw_copy, folder.parent) + "/d\\xff")


# ---------------------------------------------------------------------------------------------
# item 4: inputs that cannot be read (permission denied)


def without_root_powers() -> tuple[str, ...]:
    """A prefix that runs a command without the power to read every file: as root, setpriv
    drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH; anyone else has not got them."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv (util-linux) is absent: cannot drop the power")
    return SETPRIV


def test_unreadable_inputs_are_quarantined_not_a_traceback(
    raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    prefix = without_root_powers()
    other = listed(raw_copy, "testset_v")[0]
    stroke = stroke_path(raw_copy, f"{form}-02")
    text = transcription_path(raw_copy, other)
    closed = stroke_path(raw_copy, f"{form}-01").parent.parent / "zz0"
    closed.mkdir()
    (closed / "zz0-000-01.xml").write_bytes(stroke.read_bytes())
    for path in (stroke, text, closed):
        path.chmod(0)
    out = tmp_path / "out"
    try:
        result = build_in_child(raw_copy, out, prefix)
    finally:
        for path in (stroke, text):
            path.chmod(0o644)
        closed.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    damaged = read_built(out)
    mine = {line for line in clean.rows if line.startswith((form + "-", other + "-"))}
    expected = {
        (rel(raw_copy, stroke), "unreadable"),
        (rel(raw_copy, text), "unreadable"),
        (rel(raw_copy, closed), "unreadable"),
        (rel(raw_copy, transcription_path(raw_copy, form)), "line-numbering"),
        (f"ascii/.../{other}.txt", "missing-transcription"),
    }
    assert_nothing_else_changed(clean, damaged, mine, expected)
    assert "permission denied" in damaged.reason(rel(raw_copy, stroke)).lower()


def test_an_unreadable_split_list_is_one_clear_error(raw_copy: Path, tmp_path: Path) -> None:
    prefix = without_root_powers()
    (raw_copy / "testset_v.txt").chmod(0)
    result = build_in_child(raw_copy, tmp_path / "out", prefix)
    assert_one_clear_line(result, "testset_v.txt", "unreadable")


# ---------------------------------------------------------------------------------------------
# issue 15 item 3: the scandir walk finds what fsspec finds, in the same order


def test_the_local_walk_lists_what_fsspec_lists(base_raw: Path) -> None:
    for name in ("lineStrokes", "ascii", "original"):
        folder = resolve(base_raw / name)
        files, passed = folder.walk_stats()
        assert passed == []
        found = sorted(folder.fs.find(folder.path, withdirs=False))
        assert [f.path for f in files] == [os.path.relpath(p, folder.path) for p in found]
        for item, full in zip(files, found, strict=True):
            info = folder.fs.info(full)
            assert (item.size, item.stamp) == (info["size"], inventory.change_stamp(info))


def test_an_archive_member_whose_name_is_not_utf8_is_quarantined_escaped(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    synth_iam_ondb(raw, IamSynthParams(lines=40, seed=0, archives=True), progress=False)
    clean = build_read(raw, tmp_path / "clean")
    archive = raw / "ascii-all.tar.gz"
    with tarfile.open(archive, "r:gz") as tar:
        members = [(info, tar.extractfile(info)) for info in tar]
        kept = [(info, handle.read() if handle else None) for info, handle in members]
    odd_name = odd(b"ascii/zz0/zz0-000/caf\xe9.txt")
    extra = tarfile.TarInfo(odd_name)
    extra.size = 4
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in [*kept, (extra, b"text")]:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    archive.write_bytes(buffer.getvalue())
    damaged = build_read(raw, tmp_path / "out")
    expected = {("ascii-all.tar.gz:ascii/zz0/zz0-000/caf\\xe9.txt", "archive-member")}
    assert_nothing_else_changed(clean, damaged, set(), expected)
    (tmp_path / "out" / "manifest.json").read_bytes().decode("utf-8")
