"""How the programs end: graves_data.process.run_and_exit leaves with the command's status and
loses nothing the command wrote to its streams or logs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import logging, sys
    import click
    from graves_data.process import run_and_exit

    @click.command()
    @click.argument("how")
    def command(how: str) -> None:
        logging.basicConfig(stream=sys.stderr, format="%(message)s")
        sys.stdout.write("x" * 100_000)  # buffered, no newline: lost unless flushed
        logging.getLogger("t").warning("logged before leaving")
        if how == "status":
            click.get_current_context().exit(3)
        if how == "message":
            sys.exit("a message")
        if how == "raise":
            raise click.UsageError("bad usage")

    run_and_exit(command)
    """
)


def run(how: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, how], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("how", "status", "stderr"),
    [
        ("ok", 0, ""),
        ("status", 3, ""),
        ("message", 1, "a message"),
        ("raise", 2, "bad usage"),
    ],
)
def test_exit_status_and_flushed_streams(how: str, status: int, stderr: str) -> None:
    done = run(how)
    assert done.returncode == status, done.stderr
    assert done.stdout == "x" * 100_000
    assert "logged before leaving" in done.stderr
    assert stderr in done.stderr
