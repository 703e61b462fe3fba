"""Builds from and into object storage (a local moto S3 server): the same bytes as the local
build, read back by graves-data, pyarrow and the trainer's reader; resume, stale temporaries
and --overwrite on a store that has no rename; dask workers that reach it on their own."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest

from graves_data.corpora import iam_ondb, wikipedia
from graves_data.corpora.iam_ondb import IamParams
from graves_data.corpora.wikipedia import WikipediaParams
from graves_data.errors import OutputExists
from graves_data.pipelines.runner import Execution
from graves_data.shards import open_dataset
from graves_data.storage import TMP_MARK
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from graves_data.synth.text import DumpSynthParams, write_dump
from tests.cluster.compare import assert_same_dataset, dataset_files, manifest
from tests.cluster.daskcluster import DaskCluster
from tests.storage.conftest import Buckets
from tests.storage.s3server import MotoServer

GRAVES_DATA = str(Path(sys.executable).with_name("graves-data"))
LOCAL = Execution(workers=1, progress=False)
TWO_LOCAL = Execution(workers=2, progress=False)
PARAMS = IamParams(forms_per_shard=1)
OTHER = IamParams(forms_per_shard=5)


@pytest.fixture(scope="module")
def iam_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("iam") / "raw"
    synth_iam_ondb(root, IamSynthParams(lines=120, seed=4), progress=False)
    return root


@pytest.fixture(scope="module")
def iam_local(iam_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iam-local") / "ds"
    iam_ondb.build(iam_raw, out, PARAMS, execution=LOCAL)
    return out


@pytest.fixture
def iam_s3(buckets: Buckets, iam_raw: Path) -> str:
    return buckets.upload(iam_raw, "iam-ondb")


def test_the_upload_is_the_release_layout(buckets: Buckets, iam_s3: str, iam_raw: Path) -> None:
    listed = {path.split("/", 2)[2] for path in buckets.fs.find(iam_s3)}
    local = {str(p.relative_to(iam_raw)) for p in iam_raw.rglob("*") if p.is_file()}
    assert listed == local


@pytest.mark.parametrize("execution", [LOCAL, TWO_LOCAL], ids=["in-process", "two-workers"])
def test_iam_ondb_from_s3_into_s3_is_the_local_build(
    buckets: Buckets, iam_s3: str, iam_local: Path, execution: Execution
) -> None:
    out = f"s3://{buckets.out}/iam-ondb"
    built = iam_ondb.build(iam_s3, out, PARAMS, execution=execution)
    assert built["content_hash"] == manifest(iam_local)["content_hash"]
    assert_same_dataset(out, iam_local)
    assert manifest(out)["sources"] == manifest(iam_local)["sources"]


def test_archives_read_in_place_from_s3(buckets: Buckets, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    synth_iam_ondb(raw, IamSynthParams(lines=60, seed=2, archives=True), progress=False)
    iam_ondb.build(raw, tmp_path / "local", PARAMS, execution=LOCAL)
    out = f"s3://{buckets.out}/archives"
    iam_ondb.build(buckets.upload(raw, "archives"), out, PARAMS, execution=LOCAL)
    assert_same_dataset(out, tmp_path / "local")


# --- reading it back -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_s3(shared_buckets: Buckets, iam_raw: Path) -> str:
    """Built once from S3 into S3; the tests below only read it."""
    out = f"s3://{shared_buckets.out}/iam-ondb"
    iam_ondb.build(shared_buckets.upload(iam_raw, "iam-ondb"), out, PARAMS, execution=LOCAL)
    return out


def test_open_dataset_reads_s3(built_s3: str, iam_local: Path) -> None:
    remote, local = open_dataset(built_s3), open_dataset(str(iam_local))
    assert remote.splits == local.splits
    for split in local.splits:
        assert remote.table(split).equals(local.table(split))
        batches = list(remote.iter_batches(split, ["line_id", "text"], batch_size=7))
        assert sum(b.num_rows for b in batches) == local.table(split).num_rows


def test_pyarrow_reads_s3_through_its_own_filesystem(
    moto: MotoServer, built_s3: str, iam_local: Path
) -> None:
    s3 = pafs.S3FileSystem(
        endpoint_override=moto.endpoint,
        scheme="http",
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
    )
    bucket_path = built_s3.removeprefix("s3://")
    for split in open_dataset(str(iam_local)).splits:
        remote = pads.dataset(
            f"{bucket_path}/data", filesystem=s3, format="parquet", exclude_invalid_files=True
        )
        table = remote.to_table(filter=pads.field("line_id").isin(_line_ids(iam_local, split)))
        expected = open_dataset(str(iam_local)).table(split)
        assert table.sort_by("line_id").equals(expected.sort_by("line_id"))


def _line_ids(dataset: Path, split: str) -> list[str]:
    return [str(x) for x in open_dataset(str(dataset)).table(split, ["line_id"])[0].to_pylist()]


@pytest.mark.parametrize("loader_workers", [0, 2])
def test_the_trainers_reader_streams_from_s3(
    built_s3: str, iam_local: Path, loader_workers: int
) -> None:
    from graves_data.models.data import HandwritingStream, make_loader

    def batches(data: str) -> list[Any]:
        stream = HandwritingStream(data, "train", 8, seed=3, epochs=1)
        return list(make_loader(stream, loader_workers))

    remote, local = batches(built_s3), batches(str(iam_local))
    assert [b.line_ids for b in remote] == [b.line_ids for b in local]
    for ours, theirs in zip(remote, local, strict=True):
        assert np.array_equal(ours.inputs.numpy(), theirs.inputs.numpy())
        assert np.array_equal(ours.text.numpy(), theirs.text.numpy())


def test_stats_and_verify_commands_read_s3(built_s3: str) -> None:
    for command in (["stats", built_s3, "--json"], ["verify", built_s3]):
        done = subprocess.run([GRAVES_DATA, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


# --- interrupted, stale, overwritten -------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [GRAVES_DATA, "build", "iam-ondb", *args, "--quiet", "--workers", "1"]


@pytest.mark.slow
def test_a_build_killed_mid_way_on_s3_resumes_to_the_same_bytes(
    buckets: Buckets, iam_s3: str, iam_local: Path
) -> None:
    out = f"s3://{buckets.out}/iam-ondb"
    command = _cli("--raw", iam_s3, "--out", out, "--forms-per-shard", "1")
    build = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE)
    try:
        sidecars = _first_sidecars(buckets.fs, f"s3://{buckets.out}/.iam-ondb.build/units", build)
    finally:
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()
    assert not buckets.fs.exists(f"{out}/manifest.json")
    units = len(list((iam_local / "data").iterdir()))
    assert 0 < len(sidecars) < units, "the kill came too late to be mid-build"
    stale = f"{out}/data/train-00000-of-00002.parquet{TMP_MARK}dead"
    buckets.fs.pipe(stale, b"half a shard")

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert not buckets.fs.exists(stale)
    assert_same_dataset(out, iam_local)


def _first_sidecars(fs: Any, folder: str, build: subprocess.Popen[bytes]) -> list[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        fs.invalidate_cache()
        found = fs.find(folder) if fs.exists(folder) else []
        if found:
            return list(found)
        if build.poll() is not None:
            raise AssertionError(f"the build ended before a unit was done: {build.stderr}")
        time.sleep(0.02)
    raise AssertionError("no unit finished in time")


def same_size_edit(stroke_xml: bytes) -> bytes:
    """The stroke file with its first point moved 10 units right: same size, other ink."""
    at = stroke_xml.index(b'<Point x="') + len(b'<Point x="')
    digits = stroke_xml[at : stroke_xml.index(b'"', at)]
    moved = str(int(digits) + 10).encode()
    if len(moved) != len(digits):
        raise ValueError("pick a point whose x keeps its digit count")
    return stroke_xml[:at] + moved + stroke_xml[at + len(digits) :]


def test_a_raw_file_replaced_on_s3_is_read_again_on_the_next_run(
    buckets: Buckets, iam_s3: str, iam_raw: Path, tmp_path: Path
) -> None:
    """A re-run keeps a unit only while its inputs are unchanged. Object stores have no
    mtime: a file replaced by one of the same size must still count as changed."""
    out = f"s3://{buckets.out}/iam-ondb"
    iam_ondb.build(iam_s3, out, PARAMS, execution=LOCAL)
    rel = sorted(p.relative_to(iam_raw) for p in (iam_raw / "lineStrokes").rglob("*.xml"))[0]
    edited = same_size_edit((iam_raw / rel).read_bytes())
    buckets.fs.pipe(f"{iam_s3}/{rel}", edited)
    buckets.fs.invalidate_cache()
    local = tmp_path / "raw"
    shutil.copytree(iam_raw, local)
    (local / rel).write_bytes(edited)

    iam_ondb.build(iam_s3, out, PARAMS, execution=LOCAL)
    iam_ondb.build(local, tmp_path / "expected", PARAMS, execution=LOCAL)
    assert_same_dataset(out, tmp_path / "expected")


def test_an_archive_replaced_on_s3_is_read_again_on_the_next_run(
    buckets: Buckets, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    synth_iam_ondb(raw, IamSynthParams(lines=40, seed=2, archives=True), progress=False)
    url = buckets.upload(raw, "archives")
    out = f"s3://{buckets.out}/archives"
    iam_ondb.build(url, out, PARAMS, execution=LOCAL)
    archive = raw / "lineStrokes-all.tar.gz"
    archive.write_bytes(edit_first_stroke_member(archive.read_bytes()))
    buckets.fs.put_file(str(archive), f"{url}/{archive.name}")
    buckets.fs.invalidate_cache()

    iam_ondb.build(url, out, PARAMS, execution=LOCAL)
    iam_ondb.build(raw, tmp_path / "expected", PARAMS, execution=LOCAL)
    assert_same_dataset(out, tmp_path / "expected")


def edit_first_stroke_member(archive: bytes) -> bytes:
    """The .tar.gz with its first stroke file's first point moved (see `same_size_edit`)."""
    sink = io.BytesIO()
    edited = False
    with (
        tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as source,
        tarfile.open(fileobj=sink, mode="w:gz") as target,
    ):
        for member in source.getmembers():
            handle = source.extractfile(member)
            data = handle.read() if handle is not None else None
            if data is not None and not edited and member.name.endswith(".xml"):
                data, edited = same_size_edit(data), True
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    return sink.getvalue()


def test_overwrite_on_s3_replaces_the_dataset(
    buckets: Buckets, iam_s3: str, iam_raw: Path, tmp_path: Path
) -> None:
    out = f"s3://{buckets.out}/iam-ondb"
    iam_ondb.build(iam_s3, out, PARAMS, execution=LOCAL)
    with pytest.raises(OutputExists, match="pass --overwrite"):
        iam_ondb.build(iam_s3, out, OTHER, execution=LOCAL)
    assert open_dataset(out).manifest["params"]["forms_per_shard"] == 1  # untouched
    iam_ondb.build(iam_s3, out, OTHER, execution=LOCAL, overwrite=True)
    iam_ondb.build(iam_raw, tmp_path / "other", OTHER, execution=LOCAL)
    assert_same_dataset(out, tmp_path / "other")


def test_a_prefix_of_other_files_is_never_overwritten(buckets: Buckets, iam_s3: str) -> None:
    out = f"s3://{buckets.out}/mine"
    buckets.fs.pipe(f"{out}/notes.txt", b"keep me")
    with pytest.raises(OutputExists, match="not a graves-data dataset"):
        iam_ondb.build(iam_s3, out, PARAMS, execution=LOCAL, overwrite=True)
    assert buckets.fs.cat(f"{out}/notes.txt") == b"keep me"


# --- text builds and dask workers on S3 ----------------------------------------------------


def test_wikipedia_dump_on_s3(buckets: Buckets, tmp_path: Path) -> None:
    """bz2 streams read by byte range from S3, the scan's scratch text on S3 too; the
    trainer's text reader streams the result."""
    raw = tmp_path / "raw"
    write_dump(raw, DumpSynthParams(pages=150, seed=7, pages_per_stream=10))
    params = WikipediaParams(shard_mb=0.02, valid_fraction=0.1, test_fraction=0.1)
    wikipedia.build(str(raw), str(tmp_path / "local"), params, execution=LOCAL)
    out = f"s3://{buckets.out}/wiki"
    wikipedia.build(buckets.upload(raw, "wiki"), out, params, execution=TWO_LOCAL)
    assert_same_dataset(out, tmp_path / "local")
    assert not buckets.fs.find(f"s3://{buckets.out}/.wiki.build/wikipedia")
    assert not buckets.fs.find(f"{out}/.build")  # nothing but the dataset in its folder

    from graves_data.models.data import TextStream

    remote = list(TextStream(out, "train", 4, epochs=1))
    local = list(TextStream(str(tmp_path / "local"), "train", 4, epochs=1))
    assert len(remote) == len(local) > 0
    for ours, theirs in zip(remote, local, strict=True):
        assert np.array_equal(ours.inputs.numpy(), theirs.inputs.numpy())
        assert np.array_equal(ours.targets.numpy(), theirs.targets.numpy())


@pytest.fixture
def s3_cluster(moto: MotoServer, tmp_path: Path) -> Iterator[DaskCluster]:
    """Workers that know the endpoint only from the environment they were started with."""
    with DaskCluster(tmp_path / "dask", env=moto.env).start(workers=2) as running:
        yield running


@pytest.mark.slow
def test_dask_workers_build_from_s3_into_s3(
    s3_cluster: DaskCluster, buckets: Buckets, iam_s3: str, iam_local: Path
) -> None:
    from distributed import Client

    out = f"s3://{buckets.out}/iam-ondb"
    with Client(s3_cluster.address, timeout="20s") as client:
        iam_ondb.build(iam_s3, out, PARAMS, execution=Execution(client=client, progress=False))
    assert_same_dataset(out, iam_local)
    assert set(dataset_files(out)) == set(dataset_files(iam_local))


def test_a_text_file_replaced_on_s3_by_one_of_the_same_size_is_read_again(
    buckets: Buckets, tmp_path: Path
) -> None:
    """The text corpora stamp their inputs as the handwriting one does (the ETag on an object
    store): before, they took LastModified alone, which a replacement within the same second
    keeps, and the re-run kept the stale shard."""
    from graves_data.corpora import ptb
    from graves_data.synth.text import PtbSynthParams, write_ptb

    raw = tmp_path / "raw"
    write_ptb(raw, PtbSynthParams(lines=200, vocab=100, seed=1))
    url = buckets.upload(raw, "ptb")
    out = f"s3://{buckets.out}/ptb"
    params = ptb.PtbParams()
    ptb.build(url, out, params, execution=LOCAL)
    valid = next(raw.rglob("ptb.valid.txt"))
    text = valid.read_bytes()
    swapped = text.replace(b" the ", b" teh ", 1)
    assert swapped != text and len(swapped) == len(text)
    valid.write_bytes(swapped)
    buckets.fs.put_file(str(valid), f"{url}/{valid.relative_to(raw).as_posix()}")
    buckets.fs.invalidate_cache()

    ptb.build(url, out, params, execution=LOCAL)
    ptb.build(raw, tmp_path / "expected", params, execution=LOCAL)
    assert_same_dataset(out, tmp_path / "expected")
