"""Part files and folder locks: how bytes of a download reach the disk.

Bytes go to `<name>.part`, appended as they arrive and hashed on the way, so an interrupted
download is resumed from what is on disk; one download at a time writes into a folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from graves_data.errors import DownloadError

PART_SUFFIX = ".part"
CHUNK_BYTES = 1 << 20


class PartFile:
    """`<name>.part`: bytes appended as they arrive, hashed on the way (sha256 and the published
    algorithm), so the size and digests always describe exactly what is on disk."""

    def __init__(self, path: Path, algorithms: Sequence[str]) -> None:
        self.path = path
        self._algorithms = tuple(dict.fromkeys(("sha256", *algorithms)))
        self._hashes = {a: hashlib.new(a) for a in self._algorithms}
        self.size = 0
        self._file: IO[bytes] | None = None
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                self._update(chunk)

    def _update(self, data: bytes | memoryview) -> None:
        for h in self._hashes.values():
            h.update(data)
        self.size += len(data)

    def digest(self, algorithm: str) -> str:
        return self._hashes[algorithm].hexdigest()

    def reset(self) -> None:
        """Empty the part file, to start again from the first byte."""
        self.close()
        self.path.write_bytes(b"")
        self._hashes = {a: hashlib.new(a) for a in self._algorithms}
        self.size = 0

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def append(self, data: bytes) -> None:
        if self._file is None:
            self._file = self.path.open("ab", buffering=0)
        view = memoryview(data)
        while view:
            written = self._write(view)
            self._update(view[:written])
            view = view[written:]

    def _write(self, view: memoryview) -> int:
        """One write to the open file (unbuffered: what it returns is on disk)."""
        if self._file is None:
            raise RuntimeError("part file is not open")
        return self._file.write(view) or 0

    def finish(self) -> None:
        """Flush the bytes to disk before the rename that makes them final."""
        if self._file is None:
            self._file = self.path.open("ab", buffering=0)
        os.fsync(self._file.fileno())
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def hash_file(path: Path, algorithms: Sequence[str]) -> tuple[int, dict[str, str]]:
    hashes = {a: hashlib.new(a) for a in dict.fromkeys(("sha256", *algorithms))}
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            size += len(chunk)
            for h in hashes.values():
                h.update(chunk)
    return size, {a: h.hexdigest() for a, h in hashes.items()}


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """One download at a time into a folder (two would write the same .part files)."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(
                f"another graves-data download is writing into {folder}; wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)
