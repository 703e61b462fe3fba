"""Measure a Wikipedia build for docs/scaling.md: wall and CPU time of each pass, peak RSS of
every process that ran units, the client's own work, and dask's cost per task.

    python docs/scaling/measure.py /tmp/wiki1g /tmp/wiki1g-ds --workers 1
    python docs/scaling/measure.py /tmp/wiki1g /tmp/wiki1g-ds --workers 2
    python docs/scaling/measure.py /tmp/wiki1g /tmp/wiki1g-ds --scheduler tcp://127.0.0.1:8786

Prints one JSON object. The passes are timed by wrapping the build's own functions (the scan is
`parallel_map(scan_task, ...)`, the write pass `execute`); nothing else is changed. CPU time is
user + system of this process and its children (a local pool), or of each dask worker (read
before and after through `client.run`), so it holds even where other work shares the cores.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import shutil
import time
from collections.abc import Callable
from typing import Any

from graves_data.corpora import wikipedia
from graves_data.corpora.wikipedia import WikipediaParams, bz2_ranges, open_dump
from graves_data.pipelines import runner
from graves_data.pipelines.runner import Execution
from graves_data.storage import resolve

# the module, not the function of the same name the package exports
wikipedia_build = importlib.import_module("graves_data.corpora.wikipedia.build")
TIMES: dict[str, float] = {}


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES[name] = TIMES.get(name, 0.0) + time.monotonic() - started

    return wrapper


def usage() -> dict[str, float]:
    """CPU seconds and peak RSS (MB) of this process and of its waited-for children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_self": me.ru_utime + me.ru_stime,
        "cpu_children": kids.ru_utime + kids.ru_stime,
        "rss_self_mb": me.ru_maxrss / 1024,
        "rss_children_mb": kids.ru_maxrss / 1024,
    }


def worker_usage() -> dict[str, float]:
    """Run on each dask worker: its CPU seconds and peak RSS so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": me.ru_utime + me.ru_stime, "rss_mb": me.ru_maxrss / 1024}


def noop(item: int) -> int:
    return item


def task_overhead(client: Any, tasks: int = 2000) -> float:
    """Seconds per trivial task through the scheduler, submitted at once as a build's are."""
    started = time.monotonic()
    futures = client.map(noop, range(tasks), pure=False)
    client.gather(futures)
    return (time.monotonic() - started) / tasks


def planning(raw: str, params: WikipediaParams) -> dict[str, float]:
    """The client's work before any worker starts: the dump's head, the index, the ranges."""
    started = time.monotonic()
    dump = open_dump(resolve(raw), params.index)
    ranges = bz2_ranges(dump, max(1, round(params.shard_mb * 1_000_000) // wikipedia.BZ2_RATIO))
    return {"plan_s": time.monotonic() - started, "scan_units": len(ranges)}


def measure(raw: str, out: str, params: WikipediaParams, execution: Execution) -> dict[str, Any]:
    wikipedia_build.parallel_map = timed("scan_s", wikipedia_build.parallel_map)
    runner.execute = timed("write_s", runner.execute)  # run_build calls it by module name
    client = execution.client
    before = client.run(worker_usage) if client is not None else {}
    start_usage = usage()
    started = time.monotonic()
    manifest = wikipedia.build(raw, out, params, execution=execution)
    wall = time.monotonic() - started
    end_usage = usage()
    report: dict[str, Any] = {"wall_s": wall, **TIMES}
    report["client_other_s"] = wall - TIMES.get("scan_s", 0) - TIMES.get("write_s", 0)
    report["cpu_client_s"] = end_usage["cpu_self"] - start_usage["cpu_self"]
    report["cpu_children_s"] = end_usage["cpu_children"] - start_usage["cpu_children"]
    report["rss_client_mb"] = end_usage["rss_self_mb"]
    report["rss_children_max_mb"] = end_usage["rss_children_mb"]
    if client is not None:
        after = client.run(worker_usage)
        report["workers"] = {
            name: {"cpu_s": now["cpu"] - before[name]["cpu"], "rss_mb": now["rss_mb"]}
            for name, now in after.items()
        }
    text = manifest["text"]
    report["pages_kept"] = sum(text["pages"].values())
    report["pages_skipped"] = sum(text["skipped"].values())
    report["symbols"] = sum(s.get("symbols", 0) for s in manifest["splits"].values())
    report["shards"] = sum(len(s["files"]) for s in manifest["splits"].values())
    report["shard_bytes"] = sum(f["bytes"] for s in manifest["splits"].values() for f in s["files"])
    report["scan_units"] = text["scan_units"]
    report["content_hash"] = manifest["content_hash"]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw")
    parser.add_argument("out")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--shard-mb", type=float, default=WikipediaParams().shard_mb)
    parser.add_argument("--keep", action="store_true", help="keep the built dataset")
    args = parser.parse_args()
    params = WikipediaParams(shard_mb=args.shard_mb)
    client = None
    if args.scheduler is not None:
        from distributed import Client

        client = Client(args.scheduler)
    report: dict[str, Any] = {"workers_arg": args.workers, "scheduler": args.scheduler}
    report.update(planning(args.raw, params))
    if client is not None:
        report["task_overhead_s"] = task_overhead(client)
    execution = Execution(workers=args.workers, client=client, progress=False)
    report.update(measure(args.raw, args.out, params, execution))
    if client is not None:
        client.close()
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
