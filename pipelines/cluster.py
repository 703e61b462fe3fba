"""Running a build's units on a dask.distributed cluster.

The same `run_unit` the local pool runs is submitted as one dask task per unit. dask owns the
scheduling: retries (`Execution.retries`), and rescheduling the tasks of a worker that dies.
A unit writes its shard under its final name atomically and records itself as done, so a task
that runs twice (a worker lost after writing) writes the same bytes twice and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from graves_data.errors import GravesDataError, UsageError
from graves_data.pipelines.runner import (
    Execution,
    ProcessFn,
    Unit,
    UnitContext,
    UnitResult,
    run_unit,
)


def connect(execution: Execution) -> tuple[Any, bool]:
    """The dask Client to use, and whether this function opened it (and must close it)."""
    if execution.client is not None:
        return execution.client, False
    from distributed import Client

    try:
        return Client(execution.scheduler, timeout="20s"), True
    except (OSError, TimeoutError) as exc:
        raise UsageError(
            f"cannot reach the dask scheduler at {execution.scheduler}: {exc}"
        ) from exc


def dispatch_dask(
    process: ProcessFn,
    todo: Iterator[tuple[Unit, str]],
    ctx: UnitContext,
    execution: Execution,
) -> Iterator[UnitResult]:
    """Submit units with a bounded number in flight; yield results as they finish."""
    from distributed import as_completed

    client, owned = connect(execution)
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        window = 4 * workers
        stream = as_completed()
        in_flight = 0
        for unit, fingerprint in todo:
            future = client.submit(
                run_unit,
                process,
                unit,
                ctx,
                fingerprint,
                key=f"graves-data-{ctx.corpus}-{unit.key}-{fingerprint[:16]}",
                retries=execution.retries,
                pure=False,
            )
            stream.add(future)
            in_flight += 1
            while in_flight >= window:
                yield _result(next(stream))
                in_flight -= 1
        for future in stream:
            yield _result(future)
    finally:
        if owned:
            client.close()


def _result(future: Any) -> UnitResult:
    try:
        result: UnitResult = future.result()
    except GravesDataError:
        raise
    except Exception as exc:
        name = type(exc).__name__
        raise GravesDataError(f"a unit failed on the dask cluster ({name}: {exc})") from exc
    return result


def map_dask(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    execution: Execution,
    advance: Callable[[], None],
) -> list[Any]:
    """fn over items as dask tasks, results in item order."""
    from distributed import as_completed

    client, owned = connect(execution)
    try:
        futures = [client.submit(fn, item, retries=execution.retries, pure=False) for item in items]
        for future in as_completed(futures):
            _result(future)
            advance()
        return [f.result() for f in futures]
    finally:
        if owned:
            client.close()
