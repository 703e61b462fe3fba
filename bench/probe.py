"""Run one build in a fresh process and print its wall time and peak RSS as JSON.

`python -m bench.probe iam RAW OUT WORKERS` — the peak covers this process and its pool
workers (RUSAGE_CHILDREN once the pool is shut down), which is what a user's machine sees.
"""

from __future__ import annotations

import json
import shutil
import sys
import time

from bench.common import peak_rss_mb


def main(argv: list[str]) -> None:
    kind, raw, out, workers = argv[0], argv[1], argv[2], int(argv[3])
    shutil.rmtree(out, ignore_errors=True)
    from graves_data.pipelines.runner import Execution

    execution = Execution(workers=workers, progress=False)
    start = time.perf_counter()
    if kind == "iam":
        from graves_data.corpora.iam_ondb import build

        manifest = build(raw, out, execution=execution)
        points = sum(int(s.get("points", 0)) for s in manifest["splits"].values())
    elif kind == "iam-etree":
        from bench.baseline_iam_etree import build_baseline

        points = build_baseline(raw, out)
    else:
        raise SystemExit(f"unknown probe {kind}")
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "points": points, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main(sys.argv[1:])
