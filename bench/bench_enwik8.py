"""enwik8-size build against a numpy floor and the usual per-byte prep script, same run.

    .venv/bin/python bench/bench_enwik8.py [--size 100000000] [--workers 2] [--dump-pages 3000]

1. Generates an enwik8-shaped file of `--size` bytes (and its zip) with graves-data's generator.
2. Times, each in its own process, with the peak RSS of the whole process tree sampled:
   - floor: np.frombuffer + bincount + lookup-table encode + one pyarrow zstd write of the same
     rows (fixed_size_list<uint8, 100>, zstd at the shards' level) — what the build cannot beat
     by much without skipping work;
   - build: `graves-data build enwik8` through the Python API, from the raw file and from the zip;
   - baseline: the usual prep script, which writes each byte's id as a decimal string in a
     Python loop.
3. For dumps, the Wikipedia build's peak RSS at 1x and 4x the input size (multistream bz2 with
   its index), to show memory is bounded by the unit of work, not the input.

Writes a markdown fragment to bench/out/enwik8.md and prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.common import OUT as OUT_DIR
from bench.common import ROOT, Stat

OUT = OUT_DIR / "enwik8.md"

FLOOR = """
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
from graves_data.shards import ZSTD_LEVEL
raw, out, seq_len = sys.argv[1], sys.argv[2], 100
data = np.frombuffer(open(raw, "rb").read(), dtype=np.uint8)
counts = np.bincount(data, minlength=256)
table = (np.cumsum(counts > 0) - 1).astype(np.uint8)
ids = table[data]
rows = -(-len(ids) // seq_len)
flat = np.zeros(rows * seq_len, dtype=np.uint8); flat[: len(ids)] = ids
values = pa.FixedSizeListArray.from_arrays(pa.array(flat), seq_len)
pq.write_table(pa.table({"ids": values}), out, compression="zstd",
               compression_level=ZSTD_LEVEL, row_group_size=(1 << 20) // seq_len)
"""

# the floor without its Parquet write: where the floor's own time goes
FLOOR_COMPUTE = FLOOR.split("rows = ")[0]

BUILD = """
import sys
from graves_data.corpora import enwik8
from graves_data.pipelines.runner import Execution
execution = Execution(workers=int(sys.argv[3]), progress=False)
enwik8.build(sys.argv[1], sys.argv[2], execution=execution)
"""

# The usual enwik8 prep script (as in the awd-lstm / transformer-xl data folders): read the zip
# member whole, cut 90M / 5M / 5M, and write every byte as a decimal string, space-separated,
# built by a Python loop over the bytes.
BASELINE = """
import sys, zipfile
archive, out = sys.argv[1], sys.argv[2]
data = zipfile.ZipFile(archive).read("enwik8")
test = len(data) // 20
parts = {"train": data[: -2 * test], "valid": data[-2 * test : -test], "test": data[-test:]}
for name, part in parts.items():
    text = " ".join([str(b) if b != 10 else "\\n" for b in part])
    with open(f"{out}.{name}.txt", "w") as handle:
        handle.write(text)
    with open(f"{out}.{name}.raw", "wb") as handle:
        handle.write(part)
"""

WIKI = """
import sys
from graves_data.corpora import wikipedia
from graves_data.pipelines.runner import Execution
params = wikipedia.WikipediaParams(index=sys.argv[3], shard_mb=2.0)
wikipedia.build(sys.argv[1], sys.argv[2], params,
                execution=Execution(workers=int(sys.argv[4]), progress=False))
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_tree_mb: float
    peak_process_mb: float


def measure(script: str, *args: str) -> Run:
    """Wall time and peak RSS (whole process tree, and the largest single process)."""
    command = [sys.executable, "-c", textwrap.dedent(script), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT)
    handle = psutil.Process(proc.pid)
    peak_tree = peak_one = 0
    while proc.poll() is None:
        try:
            members = [handle, *handle.children(recursive=True)]
            sizes = []
            for member in members:
                with contextlib.suppress(psutil.Error):
                    sizes.append(member.memory_info().rss)
            peak_tree = max(peak_tree, sum(sizes))
            peak_one = max(peak_one, max(sizes, default=0))
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(args)}")
    return Run(seconds, peak_tree / 2**20, peak_one / 2**20)


def generate(folder: Path, size: int, dump_pages: int) -> dict[str, Path]:
    from graves_data.synth.text import (
        DumpSynthParams,
        Enwik8SynthParams,
        write_dump,
        write_enwik8,
    )

    raw = write_enwik8(folder / "enwik8", Enwik8SynthParams(size=size, zip=True))
    paths = {"raw": raw, "zip": raw.with_name("enwik8.zip")}
    for scale in (1, 4):
        files = write_dump(
            folder / f"dump{scale}x", DumpSynthParams(pages=dump_pages * scale, seed=scale)
        )
        assert files.index is not None
        paths[f"dump{scale}x"], paths[f"index{scale}x"] = files.dump, files.index
    return paths


PTB = """
import sys
from graves_data.corpora import ptb
from graves_data.pipelines.runner import Execution
ptb.build(sys.argv[1], sys.argv[2], execution=Execution(workers=int(sys.argv[3]), progress=False))
"""


@dataclass(frozen=True)
class Runs:
    """Repeated runs of one measurement: median wall time with its spread, and peak memory."""

    runs: tuple[Run, ...]

    @property
    def wall(self) -> Stat:
        return Stat.of([r.seconds for r in self.runs])

    @property
    def seconds(self) -> float:
        return self.wall.median

    @property
    def spread(self) -> str:
        return self.wall.show(unit="")

    @property
    def peak_tree_mb(self) -> float:
        return max(r.peak_tree_mb for r in self.runs)

    @property
    def peak_process_mb(self) -> float:
        return max(r.peak_process_mb for r in self.runs)


def repeat(times: int, script: str, *args: str) -> Runs:
    """`times` runs of `script`; every script takes its output as its second argument, removed
    before each run: a build over its own finished dataset would only check it and stop."""
    runs = []
    for _ in range(times):
        out = Path(args[1])
        if out.is_dir():
            shutil.rmtree(out)
        runs.append(measure(script, *args))
    return Runs(tuple(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dump-pages", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10 MB, one run each: a check")
    args = parser.parse_args()
    if args.quick:
        args.size, args.dump_pages, args.repeats = 10_000_000, 300, 1
    work = Path(tempfile.mkdtemp(prefix="bench-enwik8-"))
    try:
        report = run_all(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(report)
    print(report)


def run_all(args: argparse.Namespace, work: Path) -> str:
    t0 = time.perf_counter()
    paths = generate(work / "raw", args.size, args.dump_pages)
    ptb_raw = generate_ptb(work / "ptb", 4000 if args.quick else 42_068)
    print(f"generated inputs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    n, w = args.repeats, str(args.workers)
    raw, zipped = str(paths["raw"]), str(paths["zip"])
    results = {
        "floor": repeat(n, FLOOR, raw, str(work / "floor.parquet")),
        "compute": repeat(n, FLOOR_COMPUTE, raw, str(work / "unused")),
        "build": repeat(n, BUILD, raw, str(work / "ds-raw"), w),
        "build_zip": repeat(n, BUILD, zipped, str(work / "ds-zip"), w),
        "build_one": repeat(n, BUILD, raw, str(work / "ds-one"), "1"),
    }
    baseline = None if args.skip_baseline else repeat(min(n, 2), BASELINE, zipped, str(work / "b"))
    dumps = {
        scale: (
            paths[f"dump{scale}x"].stat().st_size,
            {
                workers: repeat(
                    n if scale == 1 else 1,
                    WIKI,
                    str(paths[f"dump{scale}x"]),
                    str(work / f"wiki{scale}x-{workers}"),
                    str(paths[f"index{scale}x"]),
                    workers,
                )
                for workers in (("1", w) if scale == 1 else (w,))
            },
        )
        for scale in (1, 4)
    }
    ptb_runs = {k: repeat(n, PTB, str(ptb_raw), str(work / f"ptb-{k}"), k) for k in ("1", w)}
    ptb_mb = sum(f.stat().st_size for f in ptb_raw.glob("ptb.char.*.txt")) / 1e6
    return render(args, results, baseline, dumps, ptb_runs, ptb_mb)


def generate_ptb(folder: Path, lines: int) -> Path:
    from graves_data.synth.text import PtbSynthParams, write_ptb

    write_ptb(folder, PtbSynthParams(lines=lines, vocab=10_000))
    return folder


def render(
    args: argparse.Namespace,
    results: dict[str, Runs],
    baseline: Runs | None,
    dumps: dict[int, tuple[int, dict[str, Runs]]],
    ptb_runs: dict[str, Runs],
    ptb_mb: float,
) -> str:
    mb = args.size / 1e6
    floor = results["floor"]
    lines = [
        f"### enwik8-size build ({mb:.0f} MB generated, {psutil.cpu_count()} cores)",
        "",
        "| run | wall s (median, min–max) | MB/s | peak RSS tree MB | largest process MB "
        "| vs floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, run: Runs) -> str:
        return (
            f"| {name} | {run.spread} | {mb / run.seconds:.1f} | {run.peak_tree_mb:.0f} "
            f"| {run.peak_process_mb:.0f} | {run.seconds / floor.seconds:.2f}x |"
        )

    w = args.workers
    lines.append(row("numpy floor (frombuffer, bincount, LUT, one zstd write)", floor))
    lines.append(row("numpy floor without the Parquet write", results["compute"]))
    lines.append(row(f"graves-data build enwik8, raw file, {w} workers", results["build"]))
    lines.append(row(f"graves-data build enwik8, enwik8.zip, {w} workers", results["build_zip"]))
    lines.append(row("graves-data build enwik8, raw file, 1 worker", results["build_one"]))
    if baseline is not None:
        lines.append(row("usual prep script from enwik8.zip (decimal strings)", baseline))
    build, build_zip = results["build"], results["build_zip"]
    lines += ["", "Ratios (medians):", ""]
    lines.append(f"- build / floor: {build.seconds / floor.seconds:.2f} (target <= 1.5)")
    lines.append(f"- build from zip / floor: {build_zip.seconds / floor.seconds:.2f}")
    if baseline is not None:
        lines.append(
            f"- prep script / build from the zip (same input): "
            f"{baseline.seconds / build_zip.seconds:.1f}x (target >= 10x)"
        )
        lines.append(
            f"- prep script / build from the raw file: {baseline.seconds / build.seconds:.1f}x"
        )
    lines.append(f"- peak RSS of the build (all processes): {build.peak_tree_mb:.0f} MB (< 1024)")
    lines += _dump_lines(dumps) + _ptb_lines(ptb_runs, ptb_mb)
    return "\n".join(lines) + "\n"


def _dump_lines(dumps: dict[int, tuple[int, dict[str, Runs]]]) -> list[str]:
    lines = [
        "",
        "### Wikipedia dump build: workers, and peak RSS at 1x and 4x input",
        "",
        "Multistream bz2 with its index, raw text, `--shard-mb 2` so that even the 1x input",
        "spans several units of work: memory is bounded by the unit, not the input.",
        "",
        "| input | workers | bz2 MB | wall s (median, min–max) | bz2 MB/s | peak RSS tree MB "
        "| largest process MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scale, (size, by_workers) in dumps.items():
        for count, run in by_workers.items():
            lines.append(
                f"| {scale}x | {count} | {size / 1e6:.1f} | {run.spread} "
                f"| {size / 1e6 / run.seconds:.2f} | {run.peak_tree_mb:.0f} "
                f"| {run.peak_process_mb:.0f} |"
            )
    return lines


def _ptb_lines(ptb_runs: dict[str, Runs], ptb_mb: float) -> list[str]:
    lines = [
        "",
        f"### Penn Treebank build (generated at the release's size, {ptb_mb:.1f} MB of text)",
        "",
        "| workers | wall s (median, min–max) | MB/s | peak RSS tree MB |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for count, run in ptb_runs.items():
        lines.append(
            f"| {count} | {run.spread} | {ptb_mb / run.seconds:.1f} | {run.peak_tree_mb:.0f} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    main()
