"""Every build on a real dask.distributed cluster on 127.0.0.1 gives the bytes of the local
build; a worker killed mid-build is rescheduled by dask, and a cluster left without workers
fails with one clear line, no manifest, and a re-run that completes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graves_data.corpora import enwik8, iam_ondb, ptb, wikipedia
from graves_data.corpora.enwik8 import Enwik8Params
from graves_data.corpora.iam_ondb import IamParams
from graves_data.corpora.ptb import PtbParams
from graves_data.corpora.wikipedia import WikipediaParams
from graves_data.errors import GravesDataError
from graves_data.pipelines.cluster import NO_WORKERS_TIMEOUT_KEY
from graves_data.pipelines.runner import Execution
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from graves_data.synth.text import (
    DumpSynthParams,
    Enwik8SynthParams,
    PtbSynthParams,
    write_dump,
    write_enwik8,
    write_ptb,
)
from tests.cluster.compare import assert_same_dataset
from tests.cluster.daskcluster import DaskCluster

GRAVES_DATA = str(Path(sys.executable).with_name("graves-data"))
LOCAL = Execution(workers=1, progress=False)
TWO_LOCAL = Execution(workers=2, progress=False)
IAM = IamParams(forms_per_shard=3)
ONE_FORM = IamParams(forms_per_shard=1)  # ~57 units: most are still to run at the kill
BUILD_TIMEOUT = 240.0
# dask's own log records (a result lost with its worker is "rescheduled"), not graves-data's
DASK_LOG = ("WARNING distributed.", "INFO distributed.", "ERROR distributed.")


# --- inputs and their local builds ---------------------------------------------------------


@pytest.fixture(scope="module")
def iam_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("iam") / "raw"
    synth_iam_ondb(root, IamSynthParams(lines=400, seed=5), progress=False)
    return root


@pytest.fixture(scope="module")
def iam_local(iam_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iam-local") / "ds"
    iam_ondb.build(iam_raw, out, IAM, execution=LOCAL)
    return out


@pytest.fixture(scope="module")
def one_form_local(iam_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iam-one-form") / "ds"
    iam_ondb.build(iam_raw, out, ONE_FORM, execution=LOCAL)
    return out


TextBuild = Callable[[Path, Path, Execution], Any]


def enwik8_case(folder: Path) -> TextBuild:
    write_enwik8(folder, Enwik8SynthParams(size=400_000, seed=3, zip=True))
    params = Enwik8Params(split="standard", shard_mb=0.05)
    return lambda raw, out, ex: enwik8.build(
        str(raw / "enwik8.zip"), str(out), params, execution=ex
    )


def ptb_case(folder: Path) -> TextBuild:
    write_ptb(folder, PtbSynthParams(lines=1500, seed=2))
    params = PtbParams(shard_mb=0.03)
    return lambda raw, out, ex: ptb.build(str(raw), str(out), params, execution=ex)


def wikipedia_case(folder: Path) -> TextBuild:
    write_dump(folder, DumpSynthParams(pages=200, seed=11, pages_per_stream=10))
    params = WikipediaParams(shard_mb=0.02, valid_fraction=0.1, test_fraction=0.1)
    return lambda raw, out, ex: wikipedia.build(str(raw), str(out), params, execution=ex)


TEXT_CASES = {"enwik8": enwik8_case, "ptb": ptb_case, "wikipedia": wikipedia_case}


def cli_build(corpus: str, raw: Path, out: Path, *options: str, **env: str) -> Any:
    return subprocess.run(
        [GRAVES_DATA, "build", corpus, "--raw", str(raw), "--out", str(out), "--quiet", *options],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env={**os.environ, **env},
    )


# --- the same bytes, whatever runs the units -----------------------------------------------


def test_iam_ondb_through_the_cli_on_the_cluster(
    cluster: DaskCluster, iam_raw: Path, iam_local: Path, tmp_path: Path
) -> None:
    options = ["--scheduler", cluster.address, "--forms-per-shard", "3"]
    done = cli_build("iam-ondb", iam_raw, tmp_path / "ds", *options)
    assert done.returncode == 0, done.stderr
    assert_same_dataset(tmp_path / "ds", iam_local)


def test_iam_ondb_with_a_client_and_on_local_workers(
    client: Any, iam_raw: Path, iam_local: Path, tmp_path: Path
) -> None:
    iam_ondb.build(
        iam_raw, tmp_path / "dask", IAM, execution=Execution(client=client, progress=False)
    )
    iam_ondb.build(iam_raw, tmp_path / "pool", IAM, execution=TWO_LOCAL)
    assert_same_dataset(tmp_path / "dask", iam_local)
    assert_same_dataset(tmp_path / "pool", iam_local)


def test_iam_ondb_archives_on_the_cluster(client: Any, tmp_path: Path) -> None:
    """Archive members read by the client travel to the workers inside the units."""
    raw = tmp_path / "raw"
    synth_iam_ondb(raw, IamSynthParams(lines=60, seed=2, archives=True), progress=False)
    iam_ondb.build(raw, tmp_path / "local", IAM, execution=LOCAL)
    iam_ondb.build(raw, tmp_path / "dask", IAM, execution=Execution(client=client, progress=False))
    assert_same_dataset(tmp_path / "dask", tmp_path / "local")


@pytest.mark.slow
def test_archive_units_of_many_megabytes_go_quietly(cluster: DaskCluster, tmp_path: Path) -> None:
    """64 forms' stroke files travel inside each task (so a lost worker's unit can run again
    elsewhere): dask's large-graph advice would only be noise on the user's terminal."""
    raw = tmp_path / "raw"
    synth_iam_ondb(raw, IamSynthParams(lines=480, seed=6, archives=True), progress=False)
    iam_ondb.build(raw, tmp_path / "local", IamParams(), execution=LOCAL)
    done = cli_build("iam-ondb", raw, tmp_path / "dask", "--scheduler", cluster.address)
    assert done.returncode == 0, done.stderr
    assert "large graph" not in done.stderr, done.stderr
    assert_same_dataset(tmp_path / "dask", tmp_path / "local")


@pytest.mark.parametrize("corpus", sorted(TEXT_CASES))
def test_text_builds_on_the_cluster(corpus: str, client: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    build = TEXT_CASES[corpus](raw)
    build(raw, tmp_path / "local", LOCAL)
    build(raw, tmp_path / "dask", Execution(client=client, progress=False))
    build(raw, tmp_path / "pool", TWO_LOCAL)
    assert_same_dataset(tmp_path / "dask", tmp_path / "local")
    assert_same_dataset(tmp_path / "pool", tmp_path / "local")


def test_wikipedia_through_the_cli_on_the_cluster(cluster: DaskCluster, tmp_path: Path) -> None:
    """The scan pass (shard-less tasks) and the write pass each open their own client."""
    raw = tmp_path / "raw"
    build = wikipedia_case(raw)
    build(raw, tmp_path / "local", LOCAL)
    options = ["--scheduler", cluster.address, "--shard-mb", "0.02"]
    options += ["--valid-fraction", "0.1", "--test-fraction", "0.1"]
    done = cli_build("wikipedia", raw, tmp_path / "dask", *options)
    assert done.returncode == 0, done.stderr
    assert_same_dataset(tmp_path / "dask", tmp_path / "local")


def test_two_builds_of_one_plan_at_once_keep_to_their_own_output(
    client: Any, iam_raw: Path, iam_local: Path, tmp_path: Path
) -> None:
    """Task keys name the run: the same units built into two folders are two sets of tasks."""
    execution = Execution(client=client, progress=False)
    builds = [
        Background(lambda out=out: iam_ondb.build(iam_raw, out, IAM, execution=execution))
        for out in (tmp_path / "a", tmp_path / "b")
    ]
    for running in builds:
        running.result(BUILD_TIMEOUT)
    assert_same_dataset(tmp_path / "a", iam_local)
    assert_same_dataset(tmp_path / "b", iam_local)


# --- workers killed ------------------------------------------------------------------------


class Background:
    """A build running in a thread of the test process; `result` joins it."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self._value = work()
        except BaseException as exc:
            self._error = exc

    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self, timeout: float) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the build did not end within {timeout}s")
        if self._error is not None:
            raise self._error
        return self._value


def first_units_done(out: Path, running: Callable[[], bool]) -> list[Path]:
    """Wait until the first unit has recorded itself as done; the sidecars there are then."""
    units = out.parent / f".{out.name}.build" / "units"
    deadline = time.monotonic() + BUILD_TIMEOUT
    while time.monotonic() < deadline:
        done = sorted(units.glob("*.json")) if units.exists() else []
        if done:
            return done
        if not running():
            raise AssertionError("the build ended before any unit was done")
        time.sleep(0.005)
    raise AssertionError("no unit finished in time")


@pytest.mark.slow
def test_a_worker_killed_mid_build_is_replaced_by_dask(
    own_cluster: DaskCluster, iam_raw: Path, one_form_local: Path, tmp_path: Path
) -> None:
    from distributed import Client

    out = tmp_path / "ds"
    units = len(list((one_form_local / "data").iterdir()))
    with Client(own_cluster.address, timeout="20s") as client:
        execution = Execution(client=client, progress=False)
        running = Background(lambda: iam_ondb.build(iam_raw, out, ONE_FORM, execution=execution))
        done = first_units_done(out, running.running)
        own_cluster.kill(own_cluster.workers[0])
        assert not (out / "manifest.json").exists()
        assert len(done) < units - 10, "the kill came too late to be mid-build"
        running.result(BUILD_TIMEOUT)
    assert own_cluster.worker_count() == 1
    assert_same_dataset(out, one_form_local)


@pytest.mark.slow
def test_all_workers_killed_fail_clearly_then_a_rerun_completes(
    own_cluster: DaskCluster, iam_raw: Path, one_form_local: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    command = [GRAVES_DATA, "build", "iam-ondb", "--raw", str(iam_raw), "--out", str(out)]
    command += ["--scheduler", own_cluster.address, "--forms-per-shard", "1", "--quiet"]
    env_key = "DASK_" + NO_WORKERS_TIMEOUT_KEY.replace(".", "__").replace("-", "_").upper()
    env = {**os.environ, env_key: "2s"}
    build = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        first_units_done(out, lambda: build.poll() is None)
        for worker in list(own_cluster.workers):
            own_cluster.kill(worker)
        _, stderr = build.communicate(timeout=BUILD_TIMEOUT)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert build.returncode == GravesDataError.exit_code
    ours = [line for line in stderr.splitlines() if not line.startswith(DASK_LOG)]
    assert len(ours) == 1, stderr
    assert ours[0].startswith("error: the dask cluster has had no workers for 2s"), stderr
    assert "no manifest written" in ours[0]
    assert not (out / "manifest.json").exists()

    sidecars = {
        p.name: p.stat().st_mtime_ns
        for p in (out.parent / f".{out.name}.build" / "units").glob("*.json")
    }
    own_cluster.add_workers(2)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_dataset(out, one_form_local)
    kept = [name for name, mtime in sidecars.items() if _mtime(out, name) == mtime]
    assert kept, "the re-run redid every unit instead of keeping the finished ones"


def _mtime(out: Path, sidecar: str) -> int:
    return (out.parent / f".{out.name}.build" / "units" / sidecar).stat().st_mtime_ns


def test_a_cluster_without_workers_fails_after_the_configured_wait(
    tmp_path: Path, iam_raw: Path
) -> None:
    import dask
    from distributed import Client

    with DaskCluster(tmp_path / "dask") as empty, dask.config.set({NO_WORKERS_TIMEOUT_KEY: "1s"}):
        empty.start_scheduler()
        with Client(empty.address, timeout="20s") as client:
            started = time.monotonic()
            execution = Execution(client=client, progress=False)
            with pytest.raises(GravesDataError, match="no workers for 1s"):
                iam_ondb.build(iam_raw, tmp_path / "ds", IAM, execution=execution)
            assert time.monotonic() - started < 30
    assert not (tmp_path / "ds" / "manifest.json").exists()
