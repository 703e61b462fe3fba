"""graves-data's own processes keep freed memory: array temporaries stop faulting pages in."""

from __future__ import annotations

import ctypes
import resource
import subprocess
import sys

import numpy as np
import pytest


def temporaries_faults(_: object = None) -> int:
    """Page faults of a second round of array temporaries of 0.3 to 3 MB (the first round
    warms the heap): what a unit's array code does to the allocator."""

    def work() -> None:
        for n in (40_000, 80_000, 400_000) * 20:
            a = np.ones(n)
            b = a * 2 + 1
            np.diff(b)

    work()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    work()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def in_fresh_process(body: str) -> str:
    """The output of `body` run in a new interpreter (whose allocator nothing has tuned)."""
    code = (
        "from graves_data.pipelines.allocator import keep_freed_memory\n"
        "from tests.pipelines.test_allocator import temporaries_faults\n" + body
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout


def needs_glibc() -> None:
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("the C library is not glibc: its allocator is left as it is")


DEFAULT = "print(temporaries_faults())"


def test_keeping_freed_memory_stops_the_temporaries_faulting() -> None:
    needs_glibc()
    default = int(in_fresh_process(DEFAULT))
    tuned = int(in_fresh_process("assert keep_freed_memory()\n" + DEFAULT))
    assert default > 5_000, "glibc's defaults fault these temporaries' pages in each time"
    assert tuned < default / 20


def test_the_local_workers_keep_freed_memory() -> None:
    """A pool the library starts tunes its workers, not only the CLI's process (the caller's
    own allocator is left alone)."""
    needs_glibc()
    body = (
        "from graves_data.pipelines.executors import parallel_map\n"
        "from graves_data.pipelines.runner import Execution\n"
        "workers = parallel_map(temporaries_faults, [0, 1], Execution(workers=2, progress=False))\n"
        "print(max(workers), temporaries_faults())\n"
    )
    workers, caller = (int(n) for n in in_fresh_process(body).split())
    assert caller > 5_000, "the calling process keeps glibc's defaults"
    assert workers < caller / 20
