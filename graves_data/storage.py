"""Paths and URLs through one small interface: local folders and fsspec URLs (s3://, file://).

Writes are atomic: on a local disk a file is written under a temporary name in the same folder
and renamed over the final name; on an object store one PUT is atomic by itself. So a reader
never sees half a file under a final name, whatever kills the writer. A full disk is one clear
`DiskFull` naming the file, with the temporary removed.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import posixpath
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from graves_data.errors import DiskFull, NotACorpus

TMP_MARK = ".tmp-"
# a full disk, or the user's quota spent: both mean "free some space and run again"
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass(frozen=True)
class Location:
    """A file or folder on some filesystem: `fs` is an fsspec filesystem, `path` its own path."""

    fs: Any
    path: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def url(self) -> str:
        if self.is_local:
            return self.path
        protocol = self.fs.protocol
        scheme = protocol[0] if isinstance(protocol, (tuple, list)) else protocol
        return f"{scheme}://{self.path}"

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    def join(self, *parts: str) -> Location:
        return Location(self.fs, posixpath.join(self.path, *parts))

    def parent(self) -> Location:
        return Location(self.fs, posixpath.dirname(self.path.rstrip("/")))

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.path))

    def size(self) -> int:
        return int(self.fs.size(self.path))

    def read_bytes(self) -> bytes:
        if self.is_local:  # unbuffered: one read into the bytes returned, no Path made
            with open(self.path, "rb", buffering=0) as handle:
                return handle.readall()
        data: bytes = self.fs.cat_file(self.path)
        return data

    def read_range(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop) of the file; a shorter file is an error (changed since it was
        planned), never a short read passed on."""
        with self.open("rb") as handle:
            handle.seek(start)
            data: bytes = handle.read(stop - start)
        if len(data) != stop - start:
            raise NotACorpus(
                f"{self.url}: file shorter than planned (changed during the build?): bytes "
                f"{start}..{stop} wanted, {len(data)} read"
            )
        return data

    def outside(self, root: Location) -> str | None:
        """Where this path really leads when that is outside `root` (links resolved on both
        sides), else None. Remote stores have no links: always None there."""
        if not (self.is_local and root.is_local):
            return None
        real, top = os.path.realpath(self.path), os.path.realpath(root.path)
        return None if real == top or real.startswith(top.rstrip(os.sep) + os.sep) else real

    def read_regular(self) -> bytes | None:
        """The bytes of a regular file, or None if there is none under this name.

        On a local disk the file is opened without blocking (a FIFO named like an input can
        never hang the build) and checked to be a regular file once open; anything else, or
        a file this process may not read, is an `OSError` whose message says which.
        """
        if not self.is_local:
            return self.read_bytes() if self.exists() else None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(
                    errno.EINVAL, "not a regular file (a FIFO, socket or device)", self.path
                )
            return handle.read()

    def open(self, mode: str = "rb") -> Any:
        return self.fs.open(self.path, mode)

    def makedirs(self) -> None:
        self.fs.makedirs(self.path, exist_ok=True)

    def write_atomic(self, data: bytes) -> None:
        """Write `data` so that the final name only ever holds the complete file."""
        if not self.is_local:
            self.fs.pipe_file(self.path, data)
            return
        final = Path(self.path)
        tmp = final.with_name(f"{final.name}{TMP_MARK}{secrets.token_hex(4)}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            if exc.errno in NO_SPACE:
                raise DiskFull(
                    f"{final}: no space left on the device while writing {len(data)} bytes "
                    f"({exc.strerror}); nothing half-written is left. Free some space and run "
                    "the same command again (a build resumes from the shards it finished)"
                ) from None
            raise
        finally:
            tmp.unlink(missing_ok=True)

    def remove(self, recursive: bool = False) -> None:
        if self.exists():
            self.fs.rm(self.path, recursive=recursive)

    def walk_files(self) -> Iterator[str]:
        """Paths of all regular files below this folder, relative to it, sorted.

        On a local disk no symbolic link below the folder is followed and only regular files
        are listed, so a link planted in a raw folder can never lead a read outside it and a
        FIFO can never block one; `walk_entries` also names what was passed over.
        """
        yield from self.walk_entries()[0]

    def walk_entries(self) -> tuple[list[str], list[Passed]]:
        """(regular files, entries passed over) below this folder, relative to it, sorted.

        The folder itself may be a link (the user named it); nothing below it is followed.
        """
        root = self.path.rstrip("/")
        if self.is_local:
            files, passed = _walk_local(root, readable=False)
            return [found.path for found in files], passed
        return self._remote_files(root), []

    def walk_stats(self, readable: bool = False) -> tuple[list[FileStat], list[Passed]]:
        """`walk_entries` with each file's size and change stamp.

        On a local disk one `os.scandir` walk, which has each entry's type and `lstat` at
        hand: no per-file fsspec call. With `readable`, a file this process may not read
        (permission denied) is passed over as `unreadable` rather than listed, so it becomes
        a quarantine entry instead of a traceback when read. Remote stores are listed and
        stated through fsspec, as before.
        """
        root = self.path.rstrip("/")
        if self.is_local:
            return _walk_local(root, readable)
        files = []
        for rel in self._remote_files(root):
            info = self.fs.info(posixpath.join(root, rel))
            files.append(FileStat(rel, int(info["size"]), change_stamp(info)))
        return files, []

    def _remote_files(self, root: str) -> list[str]:
        found = self.fs.find(root, withdirs=False)
        files = [posixpath.relpath(full, root) for full in sorted(found)]
        return [rel for rel in files if rel != "."]


@dataclass(frozen=True)
class FileStat:
    """A regular file a walk found: path relative to the folder, size, `change_stamp`."""

    path: str
    size: int
    stamp: int


@dataclass(frozen=True)
class Passed:
    """An entry `walk_entries` did not list as a file: `code` is symlink, not-a-file,
    unreadable or bad-name; `reason` says what it is (a link names its target)."""

    path: str
    code: str
    reason: str


def printable_name(name: str) -> str:
    """A file name as text that is always valid UTF-8: a name whose bytes are not UTF-8
    (decoded by Python with surrogate escapes) shows its odd bytes as `\\xNN`."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk_local(root: str, readable: bool) -> tuple[list[FileStat], list[Passed]]:
    """Every regular file below `root` (sorted by path), and what was passed over: links
    (never followed), special files, folders or files that cannot be read, and names that
    are not UTF-8 (a manifest is UTF-8 JSON: such a name is quarantined, shown escaped, and a
    folder of that name is not entered)."""
    files: list[FileStat] = []
    passed: list[Passed] = []
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            where = prefix.rstrip("/") or "."
            passed.append(Passed(where, "unreadable", f"unreadable folder ({exc.strerror})"))
            continue
        for entry in entries:
            rel = prefix + entry.name
            kind = _entry_kind(entry, rel, readable)
            if isinstance(kind, FileStat):
                files.append(kind)
            elif isinstance(kind, Passed):
                passed.append(kind)
            else:
                pending.append((rel + "/", entry.path))
    return sorted(files, key=lambda found: found.path), sorted(passed, key=lambda p: p.path)


def _entry_kind(entry: os.DirEntry[str], rel: str, readable: bool) -> FileStat | Passed | None:
    """The file found, why the entry is passed over, or None for a folder to enter (never
    following a link)."""
    if not is_utf8(entry.name):
        what = "folder" if entry.is_dir(follow_symlinks=False) else "file"
        return Passed(
            printable_name(rel),
            "bad-name",
            f"{what} name is not UTF-8 (shown with its odd bytes escaped); not read",
        )
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return Passed(rel, "unreadable", f"unreadable ({exc.strerror})")
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        target = printable_name(os.readlink(entry.path))
        return Passed(rel, "symlink", f"symbolic link (to {target}); links are never followed")
    if stat.S_ISDIR(mode):
        return None
    if not stat.S_ISREG(mode):
        return Passed(rel, "not-a-file", "not a regular file (a FIFO, socket or device)")
    if readable and not os.access(entry.path, os.R_OK):
        return Passed(rel, "unreadable", "unreadable (permission denied)")
    return FileStat(rel, info.st_size, int(info.st_mtime * 1e9))


RENAME_EXCHANGE = 2
AT_FDCWD = -100


def exchange_paths(new: str, old: str) -> None:
    """Put the folder `new` under the name `old`, and what `old` held under the name `new`.

    On Linux this is one renameat2(RENAME_EXCHANGE): at every instant `old` names either the
    old folder or the new one. Where the call is missing or the filesystem refuses it, three
    renames do the same with a short window in which `old` is absent (never half-written).
    """
    if not os.path.lexists(old):
        os.replace(new, old)
        return
    if _renameat2_exchange(new, old):
        return
    aside = f"{old}{TMP_MARK}{secrets.token_hex(4)}"
    os.replace(old, aside)
    os.replace(new, old)
    os.replace(aside, new)


def _renameat2_exchange(a: str, b: str) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if call(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), a)


def change_stamp(info: Mapping[str, Any]) -> int:
    """An integer that changes when a file does, from its fsspec `info()`: what a unit's resume
    fingerprint compares besides the size.

    On a local disk, the mtime in nanoseconds. Object stores have no mtime: there the ETag (a
    checksum of the content, so a file replaced by one of the same size within the same second
    still counts as changed), else the last-modified time.
    """
    if "mtime" in info:
        return int(float(info["mtime"] or 0) * 1e9)
    for key in ("ETag", "etag", "md5Hash"):
        if info.get(key):
            digest = hashlib.sha256(str(info[key]).strip('"').encode()).digest()
            return int.from_bytes(digest[:7], "big")
    for key in ("LastModified", "last_modified", "updated"):
        value = info.get(key)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
        if isinstance(value, datetime):
            return int(value.timestamp() * 1e9)
    return 0


def resolve(target: str | os.PathLike[str]) -> Location:
    """A Location for a local path or an fsspec URL (local paths become absolute)."""
    text = os.fspath(target)
    if "://" not in text:
        return Location(fsspec.filesystem("file"), os.path.abspath(text))
    fs, path = fsspec.core.url_to_fs(text)
    if isinstance(fs, LocalFileSystem):
        return Location(fs, os.path.abspath(path))
    return Location(fs, path.rstrip("/"))


def remove_stale_temporaries(folder: Location) -> list[str]:
    """Delete files a killed writer left under temporary names; return what was removed."""
    if not folder.exists():
        return []
    stale = [rel for rel in folder.walk_files() if TMP_MARK in posixpath.basename(rel)]
    for rel in stale:
        folder.join(rel).remove()
    return stale
