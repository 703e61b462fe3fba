"""Run one build in a fresh process and print its wall time and peak RSS as JSON.

`python -m bench.probe KIND RAW OUT WORKERS` — the peak covers this process and its pool
workers (RUSAGE_CHILDREN once the pool is shut down), which is what a user's machine sees.
KIND: `iam` (the build), `iam-uncompiled` (the build without its compiled parts, as an install
without a C compiler has it), `sjvasquez` (the prep script's steps), `lxml-floor`, `numpy-limit`
(timed from the files' bytes, read before the clock starts). Each probe's process is set up as
the command-line program's is (`allocator.keep_freed_memory`), the yardsticks' too.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, peak_rss_mb


def main(argv: list[str]) -> None:
    kind, raw, out, workers = argv[0], argv[1], argv[2], int(argv[3])
    shutil.rmtree(out, ignore_errors=True)
    from graves_data.pipelines.allocator import keep_freed_memory
    from graves_data.pipelines.runner import Execution

    keep_freed_memory()

    execution = Execution(workers=workers, progress=False)
    if kind in ("lxml-floor", "numpy-limit"):
        wall, cpu, points = _yardstick(kind, Path(raw))
    else:
        cpu_start, start = cpu_seconds(), time.perf_counter()
        points = _build(kind, raw, out, execution)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    report = {"wall": wall, "cpu": cpu, "points": points, "peak_rss_mb": peak_rss_mb()}
    print(json.dumps(report))


def _build(kind: str, raw: str, out: str, execution: Any) -> int:
    if kind == "iam-uncompiled":  # as an install without a C compiler builds: numpy alone
        from graves_data.corpora.iam_ondb import fastread
        from graves_data.pipelines import strokebatch

        # the pool's workers are forked (Linux), so they inherit this too
        fastread.COMPILED = strokebatch.COMPILED = None
        kind = "iam"
    if kind == "iam":
        from graves_data.corpora.iam_ondb import build

        manifest = build(raw, out, execution=execution)
        return sum(int(s.get("points", 0)) for s in manifest["splits"].values())
    if kind == "sjvasquez":
        from bench.baseline_sjvasquez import prepare

        return prepare(raw, out)
    raise SystemExit(f"unknown probe {kind}")


def _yardstick(kind: str, raw: Path) -> tuple[float, float, int]:
    """(wall, CPU seconds, points) of the floor or the limit, on the stroke files (the limit's
    read before the clock starts)."""
    from bench.iam_inputs import lxml_floor, numpy_limit, stroke_files

    files = stroke_files(raw)
    datas = [f.read_bytes() for f in files] if kind == "numpy-limit" else []
    cpu_start, start = cpu_seconds(), time.perf_counter()
    if kind == "lxml-floor":
        lxml_floor(files)
        points = 0
    else:
        points = sum(len(p) for p in numpy_limit(datas))
    return time.perf_counter() - start, cpu_seconds() - cpu_start, points


if __name__ == "__main__":
    main(sys.argv[1:])
