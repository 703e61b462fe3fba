"""Fetching one file: continue its part file, check it, move it under its final name.

A file under its final name was checked before it got there (its size and the checksum its
publisher states, where one is stated); a mismatch keeps nothing. Bytes are stored exactly as
served: no transfer decoding, so a server that labels a .tar.gz with `Content-Encoding: gzip`
cannot turn it into a .tar on disk.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3.exceptions

from graves_data.download.parts import CHUNK_BYTES, PART_SUFFIX, PartFile, hash_file
from graves_data.download.spec import RemoteFile, redact_url
from graves_data.download.transport import Http, StallWatch, Transient
from graves_data.errors import DiskFull, DownloadError, IntegrityError
from graves_data.progress import byte_columns

log = logging.getLogger("graves_data.download")


class Meter:
    """The progress bar line of one file (bytes, rate, ETA); silent when progress is off."""

    def __init__(self, progress: Any, name: str) -> None:
        self._progress = progress
        self._task: Any = None
        if progress is not None:
            self._task = progress.add_task(name, total=None)

    def set(self, completed: int, total: int | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)


@contextlib.contextmanager
def progress_bars(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(*byte_columns(), console=Console(stderr=True)) as progress:
        yield progress


@dataclass(frozen=True)
class Target:
    remote: RemoteFile
    url: str
    final: Path

    @property
    def part_path(self) -> Path:
        return self.final.with_name(self.final.name + PART_SUFFIX)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) from a Content-Range header; None where it does not say."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if match is None:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def _chunks(
    response: requests.Response, target: Target, part: PartFile, stall: StallWatch
) -> Iterator[bytes]:
    """The body as served (no transfer decoding), each chunk as soon as it arrives; read
    failures and a stalled transfer become `Transient` (the part file keeps what came)."""
    try:
        while chunk := response.raw.read1(CHUNK_BYTES, decode_content=False):
            yield chunk
            if stall.feed(len(chunk)):
                raise Transient(_stalled(target, part, stall), stalled=True)
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
        reason = type(exc).__name__
        raise Transient(
            DownloadError(
                f"{target.remote.name}: the connection kept failing ({reason}) after "
                f"{part.size} bytes; run again to resume from the .part file"
            )
        ) from None


def _stalled(target: Target, part: PartFile, stall: StallWatch) -> DownloadError:
    return DownloadError(
        f"{target.remote.name}: the transfer stalled (under {stall.minimum}); "
        f"{part.size} bytes are kept in {part.path} and the next run resumes from there"
    )


def _append(part: PartFile, chunk: bytes, target: Target, total: int | None) -> None:
    try:
        part.append(chunk)
    except OSError as exc:
        part.close()
        raise _disk_error(exc, target, part, total) from None


def _disk_error(
    exc: OSError, target: Target, part: PartFile, total: int | None
) -> DownloadError | DiskFull:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        of = f"{part.size} of {total} bytes" if total is not None else f"{part.size} bytes"
        return DiskFull(
            f"{target.remote.name}: disk full after {of}; nothing is under "
            f"{target.final.name}, the partial download is kept as {part.path} and the next "
            "run resumes it once space is freed"
        )
    return DownloadError(f"{part.path}: cannot write ({exc.strerror})")


def _start_offset(response: requests.Response, part: PartFile, target: Target) -> int | None:
    """Where the body starts, resetting the part file when the server starts from zero;
    returns the total size the server announces (None when it does not say)."""
    if response.status_code == 206:
        start, total = _content_range(response.headers.get("Content-Range"))
        if start != part.size:
            raise Transient(
                DownloadError(f"{target.remote.name}: the server resumed at the wrong offset")
            )
        return total
    if part.size:
        log.info("%s: the server ignored the Range request; starting again", target.remote.name)
        part.reset()
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _transfer(http: Http, target: Target, part: PartFile, meter: Meter) -> None:
    """One attempt; a failure that leaves the part file longer than before is progress."""
    start = part.size
    try:
        _transfer_once(http, target, part, meter)
    except Transient as t:
        t.progressed = part.size > start and not t.stalled
        raise


def _transfer_once(http: Http, target: Target, part: PartFile, meter: Meter) -> None:
    """One request that continues the part file; returns when it holds the whole file."""
    remote = target.remote
    if remote.size is not None and part.size > remote.size:
        part.reset()
    if remote.size is not None and part.size == remote.size:
        return
    headers = {"Range": f"bytes={part.size}-"} if part.size else {}
    response = http.get(target.url, remote.name, auth=remote.auth, headers=headers)
    with response:
        if response.status_code == 416:
            _, total = _content_range(response.headers.get("Content-Range"))
            if total == part.size:
                return
            part.reset()
            raise Transient(DownloadError(f"{remote.name}: the server refused the byte range"))
        total = _start_offset(response, part, target)
        if remote.size is not None and total is not None and total != remote.size:
            announced = f"{total} (announced by the server)"
            raise IntegrityError(_mismatch(remote, target.url, "size", remote.size, announced))
        expected = remote.size if remote.size is not None else total
        meter.set(part.size, expected)
        for chunk in _chunks(response, target, part, StallWatch(http.retry)):
            _append(part, chunk, target, expected)
            meter.advance(len(chunk))
    if expected is not None and part.size < expected:
        raise Transient(
            DownloadError(
                f"{remote.name}: the connection kept closing early ({part.size} of "
                f"{expected} bytes); run again to resume from the .part file"
            )
        )


def _mismatch(remote: RemoteFile, url: str, what: str, expected: object, got: object) -> str:
    return (
        f"{remote.name}: {what} mismatch: expected {expected}, got {got} (from {redact_url(url)})"
    )


def _verify(target: Target, size: int, digest: Callable[[str], str]) -> None:
    """Raise IntegrityError when size or published checksum differ."""
    remote = target.remote
    if remote.size is not None and size != remote.size:
        raise IntegrityError(_mismatch(remote, target.url, "size", remote.size, size))
    if remote.algorithm is not None and remote.checksum is not None:
        got = digest(remote.algorithm)
        if got != remote.checksum:
            raise IntegrityError(
                _mismatch(remote, target.url, remote.algorithm, remote.checksum, got)
            )


def fetch(http: Http, target: Target, meter: Meter) -> tuple[int, str]:
    """Download, check and move into place; returns (size, sha256)."""
    algorithms = [target.remote.algorithm] if target.remote.algorithm else []
    part = PartFile(target.part_path, algorithms)
    try:
        http.retrying(lambda: _transfer(http, target, part, meter), target.remote.name)
        try:
            part.finish()
        except OSError as exc:
            raise _disk_error(exc, target, part, part.size) from None
        _verify(target, part.size, part.digest)
    except IntegrityError as exc:
        part.discard()
        raise IntegrityError(
            f"{exc}; nothing was kept, run again to fetch it anew or try --mirror"
        ) from None
    finally:
        part.close()
    os.replace(part.path, target.final)
    return part.size, part.digest("sha256")


def already_there(target: Target, recorded: dict[str, Any] | None) -> tuple[int, str] | None:
    """(size, sha256) of a file already under its final name, checked; None when absent.

    A file recorded in SOURCES.json with its current size was checked before it got its name;
    any other is hashed and checked now, and one that fails is left alone and reported.
    """
    if not target.final.is_file():
        return None
    size = target.final.stat().st_size
    remote = target.remote
    size_ok = remote.size is None or remote.size == size
    if recorded is not None and recorded.get("size") == size and size_ok:
        sha256 = str(recorded["sha256"])
        if remote.algorithm != "sha256" or remote.checksum == sha256:
            return size, sha256
    algorithms = [remote.algorithm] if remote.algorithm else []
    size, digests = hash_file(target.final, algorithms)
    try:
        _verify(target, size, digests.__getitem__)
    except IntegrityError as exc:
        raise IntegrityError(
            f"{exc}; {target.final} was already there and is left as it is: "
            "remove it and run again to download it"
        ) from None
    return size, digests["sha256"]
