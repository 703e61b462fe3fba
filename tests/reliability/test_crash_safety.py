"""Crash safety: `graves-data build` killed with SIGKILL at random points, then run again.

Each build runs as its own process group (`python -m graves_data.cli build iam-ondb ...`) on a
generated corpus with one form per shard, so there are many units; a seeded schedule kills the
whole group (workers included) after a random number of finished units plus a random delay,
which lands kills inside units, between units, and in the final steps (vocab, card, manifest,
swap). After every kill the dataset folder either has no manifest or verifies intact; the last
run completes and is byte-identical, manifest included, to an uninterrupted build.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from graves_data.verify import verify
from tests.reliability.helpers import listed, stroke_path

pytestmark = pytest.mark.slow

SEED = 20130808  # arXiv:1308.0850
KILLS = 8
SUMMARY = re.compile(r"build iam-ondb: (\d+) units, (\d+) run, (\d+) kept from an earlier run")


@dataclass(frozen=True)
class Run:
    """How one build process ended: killed (and after how many finished units) or not."""

    killed: bool
    units_done: int
    returncode: int
    stderr: str

    def summary(self) -> tuple[int, int, int]:
        found = SUMMARY.search(self.stderr)
        if found is None:
            raise AssertionError(f"no unit summary in the build's log:\n{self.stderr}")
        total, ran, kept = (int(g) for g in found.groups())
        return total, ran, kept


def command(raw: Path, out: Path, workers: int, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "graves_data.cli", "-v", "build", "iam-ondb"),
        *("--raw", str(raw), "--out", str(out), "--quiet", "--workers", str(workers)),
        *("--forms-per-shard", "1", *extra),
    ]


def finished_units(out: Path, since_ns: int = 0) -> int:
    """Units recorded as finished (their sidecar written) at or after `since_ns`."""
    units = out.parent / f".{out.name}.build" / "units"
    try:
        found = [p for p in units.iterdir() if p.suffix == ".json"]
        return sum(1 for p in found if p.stat().st_mtime_ns >= since_ns)
    except FileNotFoundError:  # the folder, or a sidecar being replaced
        return 0


def run_build(
    raw: Path,
    out: Path,
    *extra: str,
    workers: int = 1,
    kill_after: int | None = None,
    delay: float = 0.0,
    watch: Path | None = None,
) -> Run:
    """Run a build; with `kill_after`, SIGKILL its process group `delay` seconds after it has
    finished that many units (sidecars written in `watch`, default `out`)."""
    start = time.time_ns()
    process = subprocess.Popen(
        command(raw, out, workers, *extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    killed = False
    if kill_after is not None:
        deadline = time.monotonic() + 120
        while process.poll() is None and finished_units(watch or out, start) < kill_after:
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            killed = True
    _, stderr = process.communicate(timeout=120)
    if not killed and process.returncode != 0:
        raise AssertionError(f"build failed ({process.returncode}):\n{stderr}")
    return Run(killed, finished_units(watch or out, start), process.returncode, stderr)


def dataset_files(root: Path) -> dict[str, bytes]:
    """Every file of a dataset folder but the resume records."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".build" not in p.relative_to(root).parts
    }


def assert_consistent_after_kill(out: Path) -> None:
    """No manifest, or one every file of which is intact; every unit recorded as finished has
    its complete shard."""
    if (out / "manifest.json").exists():
        report = verify(out)
        leftovers = {p.code for p in report.problems} - {"extra-file"}
        assert not leftovers, report.problems
        assert all(".tmp-" in p.path for p in report.problems), report.problems
    units = out.parent / f".{out.name}.build" / "units"
    for sidecar in units.iterdir() if units.exists() else ():
        if ".tmp-" in sidecar.name:
            continue
        shard = json.loads(sidecar.read_text())["result"]["shard"]
        data = (out / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"], shard["path"]


def kill_point(rng: random.Random, more: int) -> tuple[int, float]:
    """(units to let finish, then seconds to wait): a few ms after the `more`-th unit, which
    lands in the next unit, or in the final writes after the last; with none to wait for, up
    to a second, which lands in start-up, planning or the final writes."""
    if more <= 0:
        return 0, rng.uniform(0.0, 1.0)
    return more, rng.uniform(0.0, 0.03)


@pytest.fixture(scope="module")
def crash_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "raw"
    synth_iam_ondb(root, IamSynthParams(lines=120, seed=1), progress=False)
    return root


@pytest.fixture(scope="module")
def reference(crash_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted build: what every killed-and-resumed build must end up as."""
    out = tmp_path_factory.mktemp("reference") / "ds"
    run_build(crash_raw, out, workers=2)
    return out


def test_killed_builds_resume_to_the_same_bytes(
    crash_raw: Path, reference: Path, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    units = finished_units(reference)
    assert units >= 8, "the corpus should give many units"
    out = tmp_path / "ds"
    kills = []
    # units finished in all when each kill comes; the last after every unit (the final writes)
    targets = [*sorted(rng.randint(0, units - 1) for _ in range(KILLS - 1)), units]
    for attempt, target in enumerate(targets):
        after, delay = kill_point(rng, target - finished_units(out))
        run = run_build(crash_raw, out, workers=1 + attempt % 2, kill_after=after, delay=delay)
        kills.append((after, round(delay, 3), run.killed, run.units_done))
        assert_consistent_after_kill(out)
        if not run.killed:
            assert (out / "manifest.json").exists()
    assert sum(killed for *_, killed, _ in kills) >= KILLS // 2, kills
    done_before = finished_units(out)
    last = run_build(crash_raw, out, workers=2)
    total, ran, kept = last.summary()
    assert total == units and kept >= done_before - 1 and ran == units - kept
    assert dataset_files(out) == dataset_files(reference)
    assert verify(out).ok
    again = run_build(crash_raw, out)
    assert again.summary() == (units, 0, units)
    assert dataset_files(out) == dataset_files(reference)


def test_a_changed_stroke_file_reruns_one_unit_in_a_real_process(
    crash_raw: Path, reference: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    subprocess.run(["cp", "-a", str(crash_raw), str(raw)], check=True)
    out = tmp_path / "ds"
    run_build(raw, out)
    form = listed(raw, "testset_v")[0]
    path = stroke_path(raw, f"{form}-01")
    path.write_bytes(path.read_bytes().replace(b'y="1', b'y="2', 1))
    changed = run_build(raw, out)
    units = finished_units(reference)
    assert changed.summary() == (units, 1, units - 1)
    fresh = tmp_path / "fresh"
    run_build(raw, fresh)
    assert dataset_files(out) == dataset_files(fresh)


def test_a_killed_overwrite_never_loses_the_old_dataset(
    crash_raw: Path, reference: Path, tmp_path: Path
) -> None:
    """--overwrite builds beside the old dataset and swaps at the end: killed at any point,
    the folder holds the old dataset or the new one, intact, and never a mix."""
    rng = random.Random(SEED + 1)
    out = tmp_path / "ds"
    run_build(crash_raw, out, "--spike-threshold", "500")
    old = json.loads((out / "manifest.json").read_text())["content_hash"]
    new = json.loads((reference / "manifest.json").read_text())["content_hash"]
    staging = tmp_path / ".ds.staging"
    units = finished_units(reference)
    seen = set()
    for target in sorted(rng.randint(0, units) for _ in range(4)):
        after, delay = kill_point(rng, target - finished_units(staging))
        run_build(crash_raw, out, "--overwrite", kill_after=after, delay=delay, watch=staging)
        report = verify(out)
        assert report.ok, report.problems
        seen.add(report.content_hash)
        assert report.content_hash in (old, new)
    run_build(crash_raw, out, "--overwrite")
    assert dataset_files(out) == dataset_files(reference)
    assert sorted(os.listdir(tmp_path)) == [".ds.build", "ds"]  # no staging left
    assert old in seen
