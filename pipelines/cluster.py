"""Running a build's units on a dask.distributed cluster.

The same `run_unit` the local pool runs is submitted as one dask task per unit. dask owns the
scheduling: retries of a task that raised (`Execution.retries`), and rescheduling the tasks of a
worker that dies (the scheduler's `allowed-failures`). A unit writes its shard under its final
name atomically and records itself as done, so a task that runs twice (a worker lost after
writing) writes the same bytes twice and nothing else.

What dask does not do for a client is notice that no worker is left: tasks then wait forever.
So the client watches the cluster while it waits; with no worker for `no-workers-timeout`
(dask config `graves-data.no-workers-timeout`, default 60s) it cancels what it submitted and
fails with one clear line. The manifest is never written then, and a re-run keeps every unit
that finished.

Workers read the raw data and write the shards themselves, through the same URLs the client
uses: on a cluster of several machines they need the same view of `--raw` and `--out` (a shared
filesystem, or object storage with the credentials and endpoint in their environment or in
their fsspec config).
"""

from __future__ import annotations

import contextlib
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any

from graves_data.errors import GravesDataError, UsageError
from graves_data.pipelines.job import Execution, ProcessFn, Unit, UnitContext, UnitResult
from graves_data.pipelines.worker import run_unit

# A unit read from an archive (IAM-OnDB's .tar.gz, which has no random access) carries its
# members' bytes, some megabytes. They travel inside the task, through the scheduler, on
# purpose: the scheduler can then rerun the unit on another worker when one dies, which data
# scattered to a worker beforehand would not survive. In flight at once: the window, at most
# `WINDOW_PER_WORKER` units a worker. So dask's advice about large graphs is not for us.
LARGE_GRAPH = "Sending large graph"
NO_WORKERS_TIMEOUT_KEY = "graves-data.no-workers-timeout"
DEFAULT_NO_WORKERS_TIMEOUT = "60s"
POLL_SECONDS = 0.5
READY_POLL_SECONDS = 0.01
WINDOW_PER_WORKER = 4


def connect(execution: Execution) -> tuple[Any, bool]:
    """The dask Client to use, and whether this function opened it (and must close it)."""
    if execution.client is not None:
        return execution.client, False
    from distributed import Client

    try:
        return Client(execution.scheduler, timeout="20s"), True
    except (OSError, TimeoutError) as exc:
        raise UsageError(
            f"cannot reach the dask scheduler at {execution.scheduler}: {one_line(exc)}"
        ) from exc


def no_workers_timeout() -> float:
    """Seconds the client waits on a cluster without workers before it gives up."""
    import dask
    from dask.utils import parse_timedelta

    value = dask.config.get(NO_WORKERS_TIMEOUT_KEY, DEFAULT_NO_WORKERS_TIMEOUT)
    seconds = parse_timedelta(value, default="s")
    if seconds is None or seconds <= 0:
        raise UsageError(f"dask config {NO_WORKERS_TIMEOUT_KEY} must be positive, got {value!r}")
    return float(seconds)


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and its message with the whitespace folded."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Watch:
    """The client's side of a cluster run: futures in flight, and whether workers are left."""

    def __init__(self, client: Any, what: str) -> None:
        from distributed import as_completed

        self.client = client
        self.what = what
        self.limit = no_workers_timeout()
        self.pending: dict[Any, str] = {}
        self._stream = as_completed(with_results=True, raise_errors=False)
        self._without_since: float | None = None

    def workers(self) -> int:
        """Workers the scheduler knows now (0 where the scheduler cannot be asked)."""
        try:
            return len(self.client.nthreads())
        except (OSError, TimeoutError, RuntimeError):
            return 0

    def add(self, future: Any, label: str) -> None:
        self.pending[future] = label
        self._stream.add(future)

    def next_result(self) -> tuple[Any, Any]:
        """(future, result) of the next task to finish; a clear GravesDataError where it
        failed. The results are fetched by dask's `as_completed` in the client's event loop:
        a result lost with its worker before it was fetched is computed again by dask and
        arrives later, while this thread keeps watching that workers are left."""
        future, outcome = self._next_done()
        label = self.pending.pop(future)
        if isinstance(outcome, CancelledError):
            raise GravesDataError(
                f"{label} was cancelled on the dask cluster (scheduler restarted or lost?); "
                "no manifest written, and a re-run keeps the units that finished"
            )
        if future.status == "error":
            raise unit_failed(label, outcome[1])
        return future, outcome

    def _next_done(self) -> tuple[Any, Any]:
        """Block until a future is finished (done, erred or cancelled), checking every
        `POLL_SECONDS` that the cluster still has workers."""
        checked = time.monotonic()
        while not self._stream.has_ready():
            time.sleep(READY_POLL_SECONDS)
            if time.monotonic() - checked >= POLL_SECONDS:
                self._check_workers()
                checked = time.monotonic()
        self._without_since = None
        done: tuple[Any, Any] = next(self._stream)
        return done

    def _check_workers(self) -> None:
        if self.workers() > 0:
            self._without_since = None
            return
        now = time.monotonic()
        if self._without_since is None:
            self._without_since = now
        elif now - self._without_since >= self.limit:
            raise GravesDataError(
                f"the dask cluster has had no workers for {self.limit:g}s (all lost, or none "
                f"started); stopped with {len(self.pending)} {self.what} in flight, no manifest "
                "written. Start workers and run the build again: finished units are kept"
            )

    def cancel(self) -> None:
        """Cancel what is still in flight, so no orphaned task writes after the build ended."""
        if self.pending:
            # where the cluster is gone, nothing of it is left to run
            with contextlib.suppress(OSError, TimeoutError, RuntimeError):
                self.client.cancel(list(self.pending), force=True)
            self.pending.clear()


def dispatch_dask(
    process: ProcessFn,
    todo: Iterator[tuple[Unit, str]],
    ctx: UnitContext[Any],
    execution: Execution,
) -> Iterator[UnitResult]:
    """Submit units with a bounded number in flight; yield results as they finish."""
    client, owned = connect(execution)
    watch = Watch(client, "units")
    run = uuid.uuid4().hex[:8]  # two builds of the same plan (other --out) never share a key
    try:
        window = WINDOW_PER_WORKER * max(1, watch.workers())
        for unit, fingerprint in todo:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", LARGE_GRAPH, UserWarning)
                future = client.submit(
                    run_unit,
                    process,
                    unit,
                    ctx,
                    fingerprint,
                    key=f"graves-data-{ctx.corpus}-{unit.key}-{run}",
                    retries=execution.retries,
                    pure=False,
                )
            watch.add(future, f"unit {unit.key}")
            while len(watch.pending) >= window:
                yield watch.next_result()[1]
        while watch.pending:
            yield watch.next_result()[1]
    finally:
        watch.cancel()
        if owned:
            client.close()


def unit_failed(label: str, error: BaseException) -> GravesDataError:
    if isinstance(error, GravesDataError):
        return error
    return GravesDataError(
        f"{label} failed on the dask cluster ({one_line(error)}); no manifest written, "
        "and a re-run keeps the units that finished"
    )


def map_dask(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    execution: Execution,
    advance: Callable[[], None],
) -> list[Any]:
    """fn over items as dask tasks, results in item order."""
    client, owned = connect(execution)
    watch = Watch(client, "tasks")
    try:
        futures = [client.submit(fn, item, retries=execution.retries, pure=False) for item in items]
        index = {future: i for i, future in enumerate(futures)}
        for i, future in enumerate(futures):
            watch.add(future, f"{getattr(fn, '__name__', 'task')} #{i}")
        results: list[Any] = [None] * len(futures)
        while watch.pending:
            future, value = watch.next_result()
            results[index[future]] = value
            advance()
        return results
    finally:
        watch.cancel()
        if owned:
            client.close()
