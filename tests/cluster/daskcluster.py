"""A real dask.distributed cluster on 127.0.0.1 for the tests: one `dask scheduler` and
`dask worker` processes started from the venv's `dask` command, torn down whatever happens.

Workers run without a nanny (`--no-nanny`), so the process the test holds is the worker itself:
a SIGKILL to it is a worker lost for good, as when a machine dies, not one a nanny restarts.
Each process is the leader of its own session, and teardown signals the whole group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT = 90.0


class DaskCluster:
    """A scheduler and its workers as subprocesses; logs and the scheduler file in `folder`."""

    def __init__(self, folder: Path, env: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = folder / "scheduler.json"
        self.env = {
            **os.environ,
            # a scheduler no client uses any more (pytest killed hard) stops by itself
            "DASK_DISTRIBUTED__SCHEDULER__IDLE_TIMEOUT": "300s",
            **(env or {}),
        }
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._started = 0
        self._client: Any = None

    # --- starting -------------------------------------------------------------------------

    def start(self, workers: int = 2) -> DaskCluster:
        try:
            self.start_scheduler()
            self.add_workers(workers)
        except BaseException:
            self.close()
            raise
        return self

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            "scheduler",
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(self.scheduler_file),
            ],
        )
        self._until(self.scheduler_file.exists, "the scheduler to write its file")

    @property
    def address(self) -> str:
        return str(json.loads(self.scheduler_file.read_text())["address"])

    def add_workers(self, count: int) -> list[subprocess.Popen[bytes]]:
        """Start `count` more workers (1 thread each) and wait until the scheduler has them."""
        before = self.worker_count()
        added = []
        for _ in range(count):
            name = f"worker-{self._started}"
            self._started += 1
            added.append(
                self._spawn(
                    name,
                    [
                        "worker",
                        self.address,
                        "--name",
                        name,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--dashboard-address",
                        "127.0.0.1:0",
                        "--host",
                        "127.0.0.1",
                        "--memory-limit",
                        "0",
                        "--death-timeout",
                        "60",
                        "--local-directory",
                        str(self.folder / name),
                    ],
                )
            )
        self.workers += added
        self._until(lambda: self.worker_count() >= before + count, f"{count} workers to join")
        return added

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        try:
            return subprocess.Popen(
                [str(DASK), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.folder,
                start_new_session=True,
            )
        finally:
            log.close()

    def _until(self, condition: Any, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not condition():
            for proc in [self.scheduler, *self.workers]:
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"a dask process exited early ({proc.args}):\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")
            time.sleep(0.1)

    # --- looking -------------------------------------------------------------------------

    def worker_count(self) -> int:
        """Workers the scheduler knows now (asked through the cluster's own client)."""
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout="20s")
        return len(self._client.nthreads())

    def logs(self, tail: int = 40) -> str:
        parts = []
        for log in sorted(self.folder.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    # --- stopping ------------------------------------------------------------------------

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL a worker: it dies at once, as a lost machine, with no chance to clean up."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.workers.remove(proc)

    def close(self) -> None:
        """Stop every process this cluster started: workers first, then the scheduler."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        for proc in [*self.workers, self.scheduler]:
            if proc is not None:
                _stop(proc)
        self.workers.clear()
        self.scheduler = None

    def __enter__(self) -> DaskCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    _signal_group(proc, signal.SIGKILL)  # and anything it started in its session
    proc.wait(timeout=30)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
