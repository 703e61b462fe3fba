"""How the command-line programs end: run the command, then leave without native teardown.

pyarrow's C++ thread pools are destroyed by static destructors after Python has finished; on a
busy machine one of their threads can still be joinable then, and a process whose work is done
dies with "terminate called without an active exception" (SIGABRT, exit status -6;
apache/arrow#34314). Every file graves-data writes is closed, and renamed into place, before a
command returns, so once the exit status is known the process flushes its streams and logs and
leaves with `os._exit`, which skips that teardown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, NoReturn

import click

from graves_data.pipelines.allocator import keep_freed_memory


def exit_status(code: Any) -> int:
    """The status `sys.exit(code)` would give: None is 0, an int itself, anything else 1
    (after printing it to stderr, as the interpreter does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def leave(status: int) -> NoReturn:
    """Flush the logs and the standard streams, then end the process with `status` at once."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def run_and_exit(command: click.Command, **kwargs: Any) -> NoReturn:
    """Run a click command as a program (standalone mode) and leave with its exit status.
    The program's allocator keeps freed memory (`allocator.keep_freed_memory`)."""
    keep_freed_memory()
    try:
        command.main(**kwargs)
        status = 0
    except SystemExit as stop:
        status = exit_status(stop.code)
    leave(status)
