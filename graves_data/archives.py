"""Reading release archives in place, safely: nothing is ever extracted to disk.

Members are read into memory one at a time, so a member named `../../x` or `/etc/passwd` can
never be written anywhere; such names, links and oversized members are reported, not read.
A compressed tar stream is inflated through a guard: one that inflates past
`MAX_INFLATION` times what it has read (after the first `INFLATION_FLOOR` bytes) is a
decompression bomb and is refused, so memory and time stay bounded by the archive's size.
A zip member is judged before a byte of it is inflated, from the sizes its central directory
declares (zipfile never inflates past them): the same ratio past the same floor is refused,
and so are encrypted members and compression methods Python cannot read. Both limits are
module constants; raise them (`graves_data.archives.MAX_INFLATION = 1000`) to read an
archive they refuse.

What counts as a zip is decided by its name (`.zip`) or its first bytes (`PK\\x03\\x04`), not
by whether it opens: a truncated download has lost its central directory, and must be reported
as a damaged archive, never read as if it were the data.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

from graves_data.errors import NotACorpus, UnreadableArchive
from graves_data.storage import Location, is_utf8, printable_name

# the largest member read into memory; a real IAM-OnDB stroke file is under 1 MB
DEFAULT_MAX_MEMBER_BYTES = 64 * 1024 * 1024
# inflated bytes per compressed byte beyond which a stream is a bomb: the release's archives
# inflate about 6x (stroke XML) to 14x (small transcriptions padded to tar blocks)
MAX_INFLATION = 200
INFLATION_FLOOR = 64 * 1024 * 1024
# a local file header, or the end record of an archive with no members
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ZIP_ENCRYPTED = 0x1


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Member:
    """A regular-file member read from an archive (`data`), or one refused (`problem`)."""

    name: str
    data: bytes | None
    problem: str | None = None


def safe_member_name(name: str) -> str | None:
    """The member's path normalised, or None if it is absolute or climbs out of the archive."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return None
    normal = posixpath.normpath(name.replace("\\", "/"))
    if normal == ".." or normal.startswith("../") or normal.startswith("/"):
        return None
    return normal.removeprefix("./")


class HashingReader:
    """A read-only file wrapper that hashes (sha256) and counts what passes through it."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        chunk = self._raw.read(n)
        self._hash.update(chunk)
        self.size += len(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def iter_tar(
    source: Readable,
    label: str,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    read_data: bool = True,
) -> Iterator[Member]:
    """Stream the members of a (possibly compressed) tar archive, in archive order."""
    try:
        stream = inflated(source, label)
        with tarfile.open(fileobj=cast(Any, stream), mode="r|") as archive:
            for info in archive:
                yield _tar_member(archive, info, max_member_bytes, read_data)
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise UnreadableArchive(f"{label}: not a readable tar archive ({exc})") from exc


class _Counted:
    """A read-only stream that counts what it reads and can look at its first bytes."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._head = b""
        self.size = 0

    def peek(self, n: int) -> bytes:
        self._head = self._raw.read(n)
        self.size += len(self._head)
        return self._head

    def read(self, n: int = -1, /) -> bytes:
        head, self._head = self._head, b""
        if 0 <= n <= len(head):
            self._head = head[n:]
            return head[:n]
        chunk = self._raw.read(n - len(head) if n >= 0 else -1)
        self.size += len(chunk)
        return head + chunk


class _InflationGuard:
    """Reads a decompressing stream, refusing it once it inflates like a bomb."""

    def __init__(self, inner: Readable, compressed: _Counted, label: str) -> None:
        self._inner = inner
        self._compressed = compressed
        self._label = label
        self.inflated = 0

    def read(self, n: int = -1, /) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        chunk = self._inner.read(n)
        self.inflated += len(chunk)
        if (
            self.inflated > INFLATION_FLOOR
            and self.inflated > MAX_INFLATION * self._compressed.size
        ):
            raise UnreadableArchive(
                f"{self._label}: inflates more than {MAX_INFLATION}x its compressed size "
                f"({self.inflated} bytes from {self._compressed.size}): a decompression bomb; "
                "refused"
            )
        return chunk


def inflated(source: Readable, label: str) -> Readable:
    """`source` decompressed (gzip, bzip2 or xz, found by their magic bytes) through the
    inflation guard, or as it is where it is not compressed."""
    counted = _Counted(source)
    head = counted.peek(6)
    inner: Readable  # each closed with the stream it wraps, which its caller owns
    if head.startswith(b"\x1f\x8b"):
        inner = gzip.GzipFile(fileobj=cast(Any, counted), mode="rb")
    elif head.startswith(b"BZh"):
        inner = bz2.BZ2File(cast(Any, counted), mode="rb")
    elif head.startswith(b"\xfd7zXZ\x00"):
        inner = lzma.LZMAFile(cast(Any, counted), mode="rb")  # noqa: SIM115
    else:
        return counted
    return _InflationGuard(inner, counted, label)


def _tar_member(archive: Any, info: tarfile.TarInfo, limit: int, read_data: bool) -> Member:
    name = safe_member_name(info.name)
    if name is None:
        return Member(info.name, None, "member path is absolute or leaves the archive")
    if not is_utf8(name):  # tarfile decodes other bytes as surrogates: JSON cannot hold them
        return Member(printable_name(name), None, "member name is not UTF-8 (shown escaped)")
    if info.isdir():
        return Member(name, None, "directory")
    if not info.isfile():
        return Member(name, None, "not a regular file (link or device)")
    if info.size > limit:
        return Member(name, None, f"member of {info.size} bytes exceeds the {limit}-byte limit")
    if not read_data:
        return Member(name, b"")
    handle = archive.extractfile(info)
    if handle is None:
        return Member(name, None, "unreadable member")
    data = handle.read(limit + 1)
    if len(data) > limit:
        return Member(name, None, f"member exceeds the {limit}-byte limit")
    return Member(name, data)


def iter_zip(
    location: Location, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
) -> Iterator[Member]:
    """The members of a zip archive; a member that inflates past the limit is refused."""
    try:
        with location.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                name = safe_member_name(info.filename)
                if name is None:
                    yield Member(
                        info.filename, None, "member path is absolute or leaves the archive"
                    )
                    continue
                if info.is_dir():
                    continue
                if info.file_size > max_member_bytes:
                    yield Member(name, None, f"member of {info.file_size} bytes exceeds the limit")
                    continue
                check_zip_member(info, location.url)
                with archive.open(info) as member:
                    data = member.read(max_member_bytes + 1)
                if len(data) > max_member_bytes:
                    yield Member(name, None, "member inflates past the limit (decompression bomb)")
                    continue
                yield Member(name, data)
    except ZIP_ERRORS as exc:
        raise UnreadableArchive(f"{location.url}: not a readable zip archive ({exc})") from exc


# what reading a damaged zip raises: bad headers or CRC, a cut stream, a corrupt deflate,
# bzip2 or lzma stream, or a method zipfile does not implement
ZIP_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
)


def looks_like_zip(name: str, head: bytes) -> bool:
    """Whether an input is a zip archive: by its name or by its first bytes."""
    return name.lower().endswith(".zip") or head.startswith(ZIP_MAGIC)


def zip_files(location: Location) -> list[zipfile.ZipInfo]:
    """The file members (not folders) of a zip archive, from its central directory.

    A damaged archive (a truncated download loses the directory at its end) is a clear
    `UnreadableArchive`, never a silent fallback to reading the bytes as they are.
    """
    try:
        with location.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            return [info for info in archive.infolist() if not info.is_dir()]
    except ZIP_ERRORS as exc:
        raise UnreadableArchive(
            f"{location.url}: a damaged zip archive ({exc}); a truncated download? fetch it again"
        ) from exc


def check_zip_member(info: zipfile.ZipInfo, label: str) -> None:
    """Refuse a member that cannot or must not be inflated, before reading any of it."""
    where = f"{label}: member {info.filename}"
    if info.flag_bits & ZIP_ENCRYPTED:
        raise UnreadableArchive(
            f"{where} is encrypted; graves-data reads unencrypted archives only "
            "(extract it with its password and pass the file)"
        )
    if info.compress_type not in _ZIP_METHODS:
        names: dict[int, str] = getattr(zipfile, "compressor_names", {})
        method = names.get(info.compress_type, f"number {info.compress_type}")
        raise UnreadableArchive(
            f"{where} uses the {method} compression method, which Python's zipfile cannot read "
            "(extract it with another tool and pass the file)"
        )
    if info.file_size > INFLATION_FLOOR and info.file_size > MAX_INFLATION * max(
        1, info.compress_size
    ):
        raise UnreadableArchive(
            f"{where} declares {info.file_size} bytes from {info.compress_size} compressed: "
            f"more than the {MAX_INFLATION}x limit (graves_data.archives.MAX_INFLATION, "
            f"applied past {INFLATION_FLOOR} bytes); a decompression bomb? refused"
        )


_ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


def one_member(candidates: list[str], label: str, what: str) -> str | None:
    """The one member that can be `what`, None where there is none; two or more are refused,
    named, rather than one of them chosen silently."""
    if len(candidates) > 1:
        raise NotACorpus(
            f"{label}: {len(candidates)} members could be {what} "
            f"({', '.join(sorted(candidates))}); refusing to guess: leave one in the archive"
        )
    return candidates[0] if candidates else None
