"""Where the work runs: in this process, on a local process pool, or on a dask cluster.

The choice between the three is made in one place (`backend`), for the build's units
(`execute`) and for the passes that write no shard (`parallel_map`: counting symbols before a
vocabulary exists, scanning a dump's pages). Results come back in a fixed order whatever the
backend, so the bytes never depend on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from contextlib import contextmanager
from multiprocessing import get_all_start_methods, get_context
from typing import Any, Literal, TypeVar

from graves_data.pipelines.allocator import keep_freed_memory
from graves_data.pipelines.cluster import dispatch_dask, map_dask
from graves_data.pipelines.job import BuildJob, Execution, ProcessFn, Unit, UnitContext, UnitResult
from graves_data.pipelines.job import unit_fingerprint as unit_fingerprint
from graves_data.pipelines.worker import (
    Inputs,
    finished_result,
    make_rows,
    read_inputs,
    run_unit,
    write_result,
)
from graves_data.progress import CountBar
from graves_data.storage import Location, resolve

log = logging.getLogger(__name__)

Backend = Literal["dask", "serial", "pool"]
T = TypeVar("T")


def backend(execution: Execution, tasks: int) -> tuple[Backend, int]:
    """(where `tasks` pieces of work run, local worker processes): the one three-way choice."""
    if execution.on_cluster:
        return "dask", 0
    workers = execution.worker_count(tasks)
    return ("serial" if workers == 1 or tasks <= 1 else "pool"), workers


def execute(job: BuildJob, root: Location, execution: Execution) -> list[UnitResult]:
    """Run every unit not already finished; return all results in unit order."""
    ctx = job.context(root)
    results: dict[str, UnitResult] = {}
    kept: list[str] = []
    progress = CountBar(execution.progress, job.unit_count, f"build {job.corpus}")

    parallel = backend(execution, job.unit_count)[0] != "serial"
    units = _heaviest_first(job.units) if parallel else job.units

    def todo() -> Iterator[tuple[Unit, str]]:
        for unit in units:
            fingerprint = unit_fingerprint(job, unit)
            done = finished_result(root, unit, fingerprint)
            if done is not None:
                results[unit.key] = done
                kept.append(unit.key)
                progress.advance()
                continue
            yield unit, fingerprint

    try:
        for result in _dispatch(job.process, todo(), ctx, execution, job.unit_count):
            results[result.key] = result
            progress.advance()
    finally:
        progress.close()
    log.info(
        "build %s: %d units, %d run, %d kept from an earlier run",
        job.corpus,
        len(results),
        len(results) - len(kept),
        len(kept),
    )
    # unit keys, not arrival or planning order: a folder and an archive of the same files
    # may yield units in different orders and must still give the same manifest
    return [results[key] for key in sorted(results)]


def _heaviest_first(units: Iterable[Unit]) -> Iterable[Unit]:
    """Planned units with the most input bytes first, for a pool or cluster: the last ones
    to start, which decide when all are done, are then the lightest. A stream of units (whose
    sizes are not known in advance) keeps its own order, and so does a serial build (its
    errors come in plan order). The results' order is never this one."""
    if not isinstance(units, Sequence):
        return units
    return sorted(units, key=lambda unit: -sum(size for _, size, _ in unit.inputs))


def _dispatch(
    process: ProcessFn,
    todo: Iterator[tuple[Unit, str]],
    ctx: UnitContext[Any],
    execution: Execution,
    units: int,
) -> Iterator[UnitResult]:
    where, workers = backend(execution, units)
    if where == "dask":
        yield from dispatch_dask(process, todo, ctx, execution)
    elif where == "serial":
        yield from _dispatch_serial(process, todo, ctx)
    else:
        yield from _dispatch_pool(process, todo, ctx, workers)


def _dispatch_serial(
    process: ProcessFn, todo: Iterator[tuple[Unit, str]], ctx: UnitContext[Any]
) -> Iterator[UnitResult]:
    """Units one after another in this process, with their I/O beside the work: a thread
    reads (and hashes) the next unit's files while this one is made, and another encodes and
    writes the previous one's shard (file reads, sha256 and Parquet encoding release the GIL).
    The rows of each unit are made here, in unit order, so the bytes are those of `run_unit`;
    at most three units are in memory. Errors come out as `run_unit` raises them."""
    raw = resolve(ctx.raw_url)
    with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(1) as writer:
        written: Future[UnitResult] | None = None
        try:
            ahead = _read_ahead(reader, raw, todo)
            while ahead is not None:
                unit, fingerprint, inputs = ahead
                ahead = _read_ahead(reader, raw, todo)
                made = make_rows(process, unit, ctx, inputs.result())
                if written is not None:
                    yield written.result()
                written = writer.submit(write_result, unit, ctx, made, fingerprint)
            if written is not None:
                yield written.result()
        except BaseException:
            if written is not None:
                written.cancel()
            raise


def _read_ahead(
    reader: ThreadPoolExecutor, raw: Location, todo: Iterator[tuple[Unit, str]]
) -> tuple[Unit, str, Future[Inputs]] | None:
    step = next(todo, None)
    if step is None:
        return None
    unit, fingerprint = step
    return unit, fingerprint, reader.submit(read_inputs, raw, unit)


def _dispatch_pool(
    process: ProcessFn, todo: Iterator[tuple[Unit, str]], ctx: UnitContext[Any], workers: int
) -> Iterator[UnitResult]:
    """A bounded window of units in flight on a process pool: memory stays per unit."""
    window = 2 * workers
    with local_pool(workers, process) as pool:
        pending: set[Future[UnitResult]] = set()
        try:
            for unit, fingerprint in todo:
                pending.add(pool.submit(run_unit, process, unit, ctx, fingerprint))
                if len(pending) >= window:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            for future in _as_done(pending):
                yield future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def local_pool(workers: int, function: Callable[..., Any]) -> ProcessPoolExecutor:
    """A pool of `workers` local processes for `function`, their allocator keeping freed
    memory (`allocator.keep_freed_memory`: they are graves-data's own processes)."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=pool_context(function), initializer=keep_freed_memory
    )


def pool_context(function: Callable[..., Any]) -> Any:
    """Fork where the platform has it: workers start in milliseconds with every module already
    imported (a forkserver would import numpy, pyarrow and lxml again: about a second). The
    parent's only other thread is the progress bar's, which the workers never touch."""
    if "fork" in get_all_start_methods():
        return get_context("fork")
    context = get_context("forkserver")
    context.set_forkserver_preload(["graves_data.pipelines.worker", function.__module__])
    return context


def _as_done(pending: set[Future[Any]]) -> Iterator[Future[Any]]:
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done


def parallel_map(
    fn: Callable[[Any], Any], items: Sequence[Any], execution: Execution, description: str = ""
) -> list[Any]:
    """fn over items on the build's executor (in process, local pool or dask), in item order.

    For passes that write no shard (counting symbols before a vocabulary exists, scanning
    for stream boundaries). `fn` must be a module-level function and items must pickle.
    """
    progress = CountBar(execution.progress and bool(description), len(items), description)
    try:
        where, workers = backend(execution, len(items))
        if where == "dask":
            return map_dask(fn, items, execution, progress.advance)
        if where == "serial":
            out = []
            for item in items:
                out.append(fn(item))
                progress.advance()
            return out
        with local_pool(workers, fn) as pool:
            futures = [pool.submit(fn, item) for item in items]
            for future in _as_done(set(futures)):
                future.result()
                progress.advance()
            return [f.result() for f in futures]
    finally:
        progress.close()


@contextmanager
def beside(fn: Callable[..., T], *args: Any, execution: Execution) -> Iterator[Callable[[], T]]:
    """`fn(*args)` begun on a local process of its own, for the caller to work beside it,
    where the build may use a second local process (`--workers` 2 or more, no cluster); else
    nothing is begun and `fn` runs here, when its result is asked for. Yields the function
    that gives the result (or raises what `fn` raised). For the serial steps before any unit
    runs (the inventory), which would otherwise leave every core but one idle."""
    where, _ = backend(execution, 2)
    if where != "pool":
        yield lambda: fn(*args)
        return
    with local_pool(1, fn) as pool:
        future = pool.submit(fn, *args)
        try:
            yield future.result
        finally:
            future.cancel()
