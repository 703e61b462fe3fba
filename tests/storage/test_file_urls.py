"""`file://` URLs name the same local folders as plain paths: the same build, the same bytes,
and the same dataset identity (a build started with a path resumes from a URL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from graves_data.corpora import iam_ondb, wikipedia
from graves_data.corpora.iam_ondb import IamParams
from graves_data.corpora.wikipedia import WikipediaParams
from graves_data.pipelines.runner import Execution
from graves_data.shards import open_dataset
from graves_data.storage import resolve
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from graves_data.synth.text import DumpSynthParams, write_dump
from tests.cluster.compare import assert_same_dataset

GRAVES_DATA = str(Path(sys.executable).with_name("graves-data"))
LOCAL = Execution(workers=1, progress=False)
PARAMS = IamParams(forms_per_shard=2)


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(raw folder, its build from plain paths)."""
    root = tmp_path_factory.mktemp("iam")
    synth_iam_ondb(root / "raw", IamSynthParams(lines=60, seed=8), progress=False)
    iam_ondb.build(root / "raw", root / "ds", PARAMS, execution=LOCAL)
    return root / "raw", root / "ds"


def test_a_file_url_resolves_to_the_local_path(tmp_path: Path) -> None:
    url, plain = resolve(f"file://{tmp_path}/x/"), resolve(tmp_path / "x")
    assert url.is_local and url.path == plain.path and url.url == plain.url


def test_iam_ondb_between_file_urls(iam: tuple[Path, Path], tmp_path: Path) -> None:
    raw, reference = iam
    out = f"file://{tmp_path}/ds"
    iam_ondb.build(f"file://{raw}", out, PARAMS, execution=Execution(workers=2, progress=False))
    assert_same_dataset(out, reference)
    assert open_dataset(out).table("train").equals(open_dataset(str(reference)).table("train"))


def test_cli_with_file_urls_and_resume_from_a_plain_path(
    iam: tuple[Path, Path], tmp_path: Path
) -> None:
    raw, reference = iam
    command = [GRAVES_DATA, "build", "iam-ondb", "--quiet", "--workers", "1"]
    command += ["--forms-per-shard", "2", "--raw", f"file://{raw}", "--out"]
    done = subprocess.run([*command, f"file://{tmp_path}/ds"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (tmp_path / "ds" / "manifest.json").unlink()  # as if interrupted before the last write
    again = subprocess.run([*command, str(tmp_path / "ds")], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert_same_dataset(tmp_path / "ds", reference)


def test_the_trainers_reader_takes_a_file_url(iam: tuple[Path, Path]) -> None:
    from graves_data.models.data import HandwritingStream

    _, reference = iam
    by_url = HandwritingStream(f"file://{reference}", "train", 8, seed=1, epochs=1)
    by_path = HandwritingStream(str(reference), "train", 8, seed=1, epochs=1)
    assert [b.line_ids for b in by_url] == [b.line_ids for b in by_path]


def test_wikipedia_dump_named_by_a_file_url(tmp_path: Path) -> None:
    write_dump(tmp_path / "raw", DumpSynthParams(pages=60, seed=3, pages_per_stream=10))
    params = WikipediaParams(shard_mb=0.02, valid_fraction=0.1, test_fraction=0.1)
    wikipedia.build(str(tmp_path / "raw"), str(tmp_path / "plain"), params, execution=LOCAL)
    out = f"file://{tmp_path}/url"
    wikipedia.build(f"file://{tmp_path}/raw", out, params, execution=LOCAL)
    assert_same_dataset(out, tmp_path / "plain")
