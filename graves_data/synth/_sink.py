"""Where generated files go: the extracted folders, or the release's .tar.gz archives.

Both take the same (part, relative path, bytes) calls, so a corpus is byte-for-byte the same
whichever layout it is written in. Archives are reproducible: fixed member mtimes, no owner
names, uid/gid 0, gzip header without a name or a time, members in the order written.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import BinaryIO, Protocol

ARCHIVES = {
    "lineStrokes": "lineStrokes-all.tar.gz",
    "ascii": "ascii-all.tar.gz",
    "original": "original-xml-all.tar.gz",
}
# members' modification time: 2005-06-13, around the release's publication
MEMBER_MTIME = 1118620800


class Sink(Protocol):
    def add(self, part: str, relpath: str, data: bytes) -> None: ...

    def close(self) -> None: ...


class FolderSink:
    """`root/<part>/<relpath>`, as the release's archives extract."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._made: set[Path] = set()

    def add(self, part: str, relpath: str, data: bytes) -> None:
        path = self._root / part / relpath
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        path.write_bytes(data)

    def close(self) -> None:
        self._made.clear()


class _Archive:
    """One reproducible .tar.gz being written, with its directory members."""

    def __init__(self, path: Path) -> None:
        # held open across many add() calls, closed in close()
        self._raw: BinaryIO = path.open("wb")
        # level 6, gzip's own default: level 9 takes twice the time for 2% less
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", compresslevel=6, fileobj=self._raw, mtime=0
        )
        self._tar = tarfile.TarFile(fileobj=self._gzip, mode="w", format=tarfile.USTAR_FORMAT)
        self._dirs: set[str] = set()

    def add(self, name: str, data: bytes) -> None:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in self._dirs:
                self._dirs.add(folder)
                self._tar.addfile(_info(folder + "/", 0, tarfile.DIRTYPE, 0o755))
        self._tar.addfile(_info(name, len(data), tarfile.REGTYPE, 0o644), io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()
        self._gzip.close()
        self._raw.close()


def _info(name: str, size: int, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mode = mode
    info.mtime = MEMBER_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class ArchiveSink:
    """`root/lineStrokes-all.tar.gz` and its two siblings, members named like the release's
    (`lineStrokes/a01/a01-000/a01-000u-01.xml`)."""

    def __init__(self, root: Path) -> None:
        self._archives = {part: _Archive(root / name) for part, name in ARCHIVES.items()}

    def add(self, part: str, relpath: str, data: bytes) -> None:
        self._archives[part].add(f"{part}/{relpath}", data)

    def close(self) -> None:
        for archive in self._archives.values():
            archive.close()


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name and rename, so a reader never sees half a file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
