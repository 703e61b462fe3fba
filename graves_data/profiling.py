"""`graves-data --profile FILE`: a profile of the command, written before the process leaves.

The programs end with `os._exit` (see graves_data.process), so a profiler started from outside
(`python -m cProfile`, `pyinstrument`) never gets to write. This one is started by the top-level
command and written, atomically, when the command's context closes: on success and on error
alike, before the exit.

The kind of profile follows the file's extension: `.txt` and `.html` are pyinstrument's call
trees (pyinstrument is a dev dependency), anything else (`.prof`, `.pstats`) cProfile's
statistics, read with `python -m pstats FILE` or `pstats.Stats(FILE)`. The profile covers the
process that runs the command: with `--workers 1` that is every step of a build; with more, the
workers' own time shows as waiting for them.
"""

from __future__ import annotations

import cProfile
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from graves_data.errors import UsageError

PYINSTRUMENT_SUFFIXES = (".txt", ".html")


def start_profile(target: str) -> Callable[[], None]:
    """Start profiling now; the returned function stops and writes the profile to `target`."""
    path = Path(target)
    if not path.parent.is_dir():
        raise UsageError(f"--profile {target}: the folder {path.parent} does not exist")
    if path.suffix.lower() in PYINSTRUMENT_SUFFIXES:
        return _start_pyinstrument(path)
    profiler = cProfile.Profile()
    profiler.enable()

    def finish() -> None:
        profiler.disable()
        _write_atomic(path, lambda temporary: profiler.dump_stats(temporary))

    return finish


def _start_pyinstrument(path: Path) -> Callable[[], None]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise UsageError(
            f"--profile {path}: a {path.suffix} profile needs pyinstrument "
            "(pip install pyinstrument), or name a .prof file for cProfile"
        ) from None
    profiler = Profiler(interval=0.001)
    profiler.start()

    def finish() -> None:
        profiler.stop()
        html = path.suffix.lower() == ".html"
        text = profiler.output_html() if html else profiler.output_text(unicode=True, color=False)

        def write(temporary: str) -> None:
            Path(temporary).write_text(text, encoding="utf-8")

        _write_atomic(path, write)

    return finish


def _write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """Write through a temporary file in the same folder, renamed into place once complete."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
