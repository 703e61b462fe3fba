"""`graves-data download <corpus>`: fetch a corpus from its official home into a raw folder.

Each corpus module names what its publisher serves as a module-level `DOWNLOADS: DownloadSpec`
(base URL, files, what is known of each: size, published checksum, whether it needs a login).
`download()` brings every file of a spec into the raw folder that `graves-data build` reads:

- resumable: bytes go to `<name>.part`; a later run continues it with an HTTP Range request
  (and starts again from zero when the server ignores Range and answers 200);
- retried with exponential backoff on transient failures (connection reset or refused,
  timeouts, HTTP 5xx, 429 with its Retry-After), counted per file and reset by progress;
- checked and atomic: the `.part` is renamed to its final name only once its size and its
  published checksum (where the publisher gives one) match; a mismatch keeps nothing;
- idempotent: a file under its final name was checked before it got there and is recorded in
  `SOURCES.json`, so a second run makes no request for it;
- recorded: `SOURCES.json` in the raw folder lists path, URL (never with credentials), size and
  sha256 of every file, sorted by path, rewritten atomically as each file completes.

Passwords come from the caller (the CLI reads a file or `$GRAVES_DATA_IAM_PASSWORD`); they are
sent as HTTP basic auth and never logged, put in a URL, an error message or `SOURCES.json`.
Proxies follow the standard variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as `requests` does.
Bytes are stored exactly as served: no transfer decoding, so a server that labels a .tar.gz
with `Content-Encoding: gzip` cannot turn it into a .tar on disk.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import json
import logging
import os
import re
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, TypeVar
from urllib.parse import urlsplit

import click
import requests
import urllib3.exceptions
from requests.auth import HTTPBasicAuth
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from graves_data import __version__
from graves_data.errors import GravesDataError, UsageError
from graves_data.schema import strict_json

log = logging.getLogger(__name__)

Algorithm = Literal["sha256", "sha1", "md5"]
_T = TypeVar("_T")

SOURCES_FILE = "SOURCES.json"
PART_SUFFIX = ".part"
CHUNK_BYTES = 1 << 20
PASSWORD_ENV = "GRAVES_DATA_IAM_PASSWORD"
USER_ENV = "GRAVES_DATA_IAM_USER"
WIKIMEDIA_DUMPS = "https://dumps.wikimedia.org/"

# corpus name -> the module that holds its DOWNLOADS spec; imported on demand, since the corpus
# modules import this one for DownloadSpec
DOWNLOAD_MODULES: dict[str, str] = {
    "iam-ondb": "graves_data.corpora.iam_ondb",
    "enwik8": "graves_data.corpora.enwik8",
    "ptb": "graves_data.corpora.ptb",
    "wikipedia": "graves_data.corpora.wikipedia",
}

_HEX_LENGTH: dict[str, int] = {"sha256": 64, "sha1": 40, "md5": 32}


# --- errors ---------------------------------------------------------------------------------------


class DownloadError(GravesDataError):
    """A download that cannot complete; the message names the file or the site and why."""


class AuthenticationFailed(DownloadError):
    """The server refused the login (HTTP 401 or 403)."""


class SiteUnreachable(DownloadError):
    """No connection to the site: DNS failure, connection refused, timeouts."""


class RemoteNotFound(DownloadError):
    """The server has no such file (HTTP 404)."""


class DumpNotFound(RemoteNotFound):
    """A Wikipedia dump date (or language) that the dump site does not have."""


class IntegrityError(DownloadError):
    """A file whose size or checksum differs from what its publisher states."""


class DiskFull(DownloadError):
    """The disk filled up while writing a download."""


class SourcesFileError(GravesDataError):
    """A SOURCES.json that cannot be read or does not have the expected shape."""


# --- what a corpus publishes ----------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteFile:
    """One file a publisher serves.

    `url` is relative to the spec's base URL (so `--mirror` can replace the base); `name` is the
    path it gets in the raw folder. `size`, `checksum` and `algorithm` are what the publisher
    states, None where it states nothing. `optional` files that the server does not have (404)
    are reported and skipped instead of failing the download.
    """

    url: str
    name: str
    size: int | None = None
    checksum: str | None = None
    algorithm: Algorithm | None = None
    auth: bool = False
    optional: bool = False

    def __post_init__(self) -> None:
        if (self.checksum is None) != (self.algorithm is None):
            raise ValueError(f"{self.name}: give both checksum and algorithm, or neither")
        hex_digits = _HEX_LENGTH[self.algorithm] if self.algorithm else 0
        checksum = self.checksum
        if checksum is not None and not re.fullmatch(f"[0-9a-f]{{{hex_digits}}}", checksum):
            raise ValueError(f"{self.name}: {checksum!r} is not a lowercase hex {self.algorithm}")
        if not _is_safe_name(self.name):
            raise ValueError(f"{self.name!r}: a file name must be relative and stay in the folder")


@dataclass(frozen=True)
class ResolveContext:
    """What a resolver may use to name the files of one download: the options; `fetch_text`
    reads a small text file from the site (relative to `base_url`; None when it is a 404) and
    `local_text` one that an earlier run put in the raw folder (None when it is not there)."""

    base_url: str
    lang: str
    date: str | None
    multistream: bool
    fetch_text: Callable[[str], str | None]
    local_text: Callable[[str], str | None] = lambda name: None


Resolver = Callable[[ResolveContext], tuple[RemoteFile, ...]]


@dataclass(frozen=True)
class DownloadSpec:
    """Where a corpus is published and what to fetch from there.

    `files` are fixed; `resolver` names more files from the options and the site itself (the
    Wikipedia dumps: a dated file name and its published checksum list). `auth` says the
    publisher serves registered users only, over HTTP basic auth.
    """

    corpus: str
    base_url: str
    files: tuple[RemoteFile, ...] = ()
    resolver: Resolver | None = None
    auth: bool = False
    homepage: str = ""
    notes: str = ""

    def resolve(self, context: ResolveContext) -> tuple[RemoteFile, ...]:
        extra = self.resolver(context) if self.resolver is not None else ()
        return (*self.files, *extra)


@dataclass(frozen=True)
class FetchedFile:
    """A file that is in the raw folder, checked: `fetched` is False when it already was."""

    path: Path
    name: str
    url: str
    size: int
    sha256: str
    fetched: bool


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one file; `sleep` is replaceable for tests."""

    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 120.0
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after `failures` consecutive failures (1, 2, ...)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return float(min(self.base_delay * 2 ** (failures - 1), self.max_delay))


# --- small helpers --------------------------------------------------------------------------------


def _is_safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def redact_url(url: str) -> str:
    """The URL without any user name or password in it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def join_url(base: str, relative: str) -> str:
    """`relative` under `base`, or `relative` itself when it is a full URL."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", relative):
        return relative
    return base.rstrip("/") + "/" + relative.lstrip("/")


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _base_url(spec: DownloadSpec, mirror: str | None) -> str:
    if mirror is None:
        return spec.base_url
    parts = urlsplit(mirror)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--mirror {redact_url(mirror)!r} is not an http(s) URL")
    return mirror


def _human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


# --- SOURCES.json ---------------------------------------------------------------------------------


def read_sources_json(raw_folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of `raw_folder/SOURCES.json` ({path, url, size, sha256}, sorted by path), or
    an empty list when there is none (a raw folder made by hand or by `synth`, or a raw input
    that is one file rather than a folder)."""
    path = Path(raw_folder) / SOURCES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourcesFileError(f"{path}: cannot be read as JSON ({exc})") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise SourcesFileError(f'{path}: expected an object with a "files" list')
    for entry in files:
        _check_source_entry(path, entry)
    return sorted(files, key=lambda e: str(e["path"]))


def _check_source_entry(path: Path, entry: Any) -> None:
    ok = (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("url"), str)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
        and re.fullmatch("[0-9a-f]{64}", entry["sha256"]) is not None
    )
    if not ok:
        raise SourcesFileError(f"{path}: malformed entry {entry!r} (need path, url, size, sha256)")


def _write_sources(folder: Path, entries: Mapping[str, dict[str, Any]]) -> None:
    doc = {"files": [entries[p] for p in sorted(entries)]}
    text = strict_json(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    tmp = folder / f".{SOURCES_FILE}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / SOURCES_FILE)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"{folder / SOURCES_FILE}: disk full while updating it") from None
        raise DownloadError(f"{folder / SOURCES_FILE}: cannot write ({exc.strerror})") from None


# --- the part file --------------------------------------------------------------------------------


class _PartFile:
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


# --- progress -------------------------------------------------------------------------------------


class _Meter:
    """The progress bar line of one file (bytes, rate, ETA); silent when progress is off."""

    def __init__(self, progress: Progress | None, name: str) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        if progress is not None:
            self._task = progress.add_task(name, total=None)

    def set(self, completed: int, total: int | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        yield progress


# --- one HTTP request, and what can go wrong with it ----------------------------------------------


class _Transient(Exception):
    """A failure worth retrying; `final` is what to raise when the retries are used up, and
    `progressed` whether the attempt got the file further than it was before."""

    def __init__(self, final: DownloadError, retry_after: float | None = None) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after
        self.progressed = False


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it wraps (cause, context, urllib3's `reason`, args)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 50:
        e = todo.pop()
        if any(e is s for s in seen):
            continue
        seen.append(e)
        linked = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo.extend(x for x in linked if isinstance(x, BaseException))
    return seen


def _connection_problem(exc: BaseException) -> str | None:
    """A short reason for a failure to connect, or None when it is not one."""
    causes = _causes(exc)
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in causes):
        return "host name not found (DNS)"
    if any(isinstance(e, ConnectionRefusedError) for e in causes):
        return "connection refused"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy failed"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed"
    return None


def _request_failure(exc: requests.RequestException, url: str) -> Exception:
    """What a `requests` error during the request means for the caller."""
    problem = _connection_problem(exc)
    site = _host(url)
    if problem == "host name not found (DNS)":
        return SiteUnreachable(f"cannot reach {site}: {problem}; check the URL or --mirror")
    if problem is not None:
        return _Transient(
            SiteUnreachable(
                f"cannot reach {site}: {problem}; the site may be down: try again later "
                "or fetch from another copy with --mirror URL"
            )
        )
    reason = "timed out" if isinstance(exc, requests.exceptions.Timeout) else type(exc).__name__
    return _Transient(DownloadError(f"{redact_url(url)}: request failed ({reason})"))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    return None


def _status_failure(
    response: requests.Response, what: str, url: str, user: str | None
) -> Exception | None:
    """What an HTTP status means for `what` (a file name), or None for a success."""
    status = response.status_code
    if status < 300:
        return None
    where = redact_url(url)
    if status in (401, 403):
        who = f"for user {user!r}" if user else "without a login"
        return AuthenticationFailed(
            f"{_host(url)} refused access {who} (HTTP {status}) to {what}; "
            "check --user and the password file"
        )
    if status == 404:
        return RemoteNotFound(f"{what}: not found at {where} (HTTP 404)")
    label = f"HTTP {status} {response.reason or ''}".rstrip()
    if status == 429 or status >= 500:
        final = DownloadError(
            f"{what}: {_host(url)} kept answering {label}; try again later or use --mirror URL"
        )
        return _Transient(final, _retry_after(response.headers.get("Retry-After")))
    return DownloadError(f"{what}: {where} answered {label}")


class _Http:
    """A `requests` session with the retry policy and the login of one download."""

    def __init__(
        self,
        session: requests.Session,
        retry: RetryPolicy,
        user: str | None,
        password: str | None,
    ) -> None:
        self.session = session
        self.retry = retry
        self.user = user
        self._auth = HTTPBasicAuth(user, password) if user and password is not None else None

    def get(
        self, url: str, what: str, *, auth: bool, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        """One GET (streamed); raises `_Transient` or a DownloadError for anything but 2xx/416."""
        try:
            response = self.session.get(
                url,
                headers=dict(headers or {}),
                auth=self._auth if auth else None,
                stream=True,
                timeout=(self.retry.connect_timeout, self.retry.read_timeout),
            )
        except requests.RequestException as exc:
            raise _request_failure(exc, url) from None
        if response.status_code == 416:
            return response
        failure = _status_failure(response, what, url, self.user)
        if failure is not None:
            response.close()
            raise failure
        return response

    def retrying(self, attempt: Callable[[], _T], what: str) -> _T:
        """Run `attempt` until it returns, backing off after each `_Transient` it raises."""
        failures = 0
        while True:
            try:
                return attempt()
            except _Transient as t:
                failures = 1 if t.progressed else failures + 1
                if failures >= self.retry.attempts:
                    raise t.final from None
                wait = self.retry.delay(failures, t.retry_after)
                log.info("%s: %s; retrying in %.1f s", what, t, wait)
                self.retry.sleep(wait)

    def text(self, url: str, what: str, *, auth: bool) -> str | None:
        """A small text file, or None when the server has none (404)."""

        def attempt() -> str | None:
            try:
                response = self.get(url, what, auth=auth)
            except RemoteNotFound:
                return None
            with response:
                try:
                    return response.content.decode("utf-8", errors="replace")
                except requests.RequestException as exc:
                    raise _request_failure(exc, url) from None

        return self.retrying(attempt, what)


# --- fetching one file ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
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


def _chunks(response: requests.Response, target: _Target, part: _PartFile) -> Iterator[bytes]:
    """The body as served (no transfer decoding); read failures become `_Transient`."""
    try:
        yield from response.raw.stream(CHUNK_BYTES, decode_content=False)
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
        reason = type(exc).__name__
        raise _Transient(
            DownloadError(
                f"{target.remote.name}: the connection kept failing ({reason}) after "
                f"{part.size} bytes; run again to resume from the .part file"
            )
        ) from None


def _append(part: _PartFile, chunk: bytes, target: _Target, total: int | None) -> None:
    try:
        part.append(chunk)
    except OSError as exc:
        part.close()
        raise _disk_error(exc, target, part, total) from None


def _disk_error(exc: OSError, target: _Target, part: _PartFile, total: int | None) -> DownloadError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        of = f"{part.size} of {total} bytes" if total is not None else f"{part.size} bytes"
        return DiskFull(
            f"{target.remote.name}: disk full after {of}; nothing is under "
            f"{target.final.name}, the partial download is kept as {part.path} and the next "
            "run resumes it once space is freed"
        )
    return DownloadError(f"{part.path}: cannot write ({exc.strerror})")


def _start_offset(response: requests.Response, part: _PartFile, target: _Target) -> int | None:
    """Where the body starts, resetting the part file when the server starts from zero;
    returns the total size the server announces (None when it does not say)."""
    if response.status_code == 206:
        start, total = _content_range(response.headers.get("Content-Range"))
        if start != part.size:
            raise _Transient(
                DownloadError(f"{target.remote.name}: the server resumed at the wrong offset")
            )
        return total
    if part.size:
        log.info("%s: the server ignored the Range request; starting again", target.remote.name)
        part.reset()
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _transfer(http: _Http, target: _Target, part: _PartFile, meter: _Meter) -> None:
    """One attempt; a failure that leaves the part file longer than before is progress."""
    start = part.size
    try:
        _transfer_once(http, target, part, meter)
    except _Transient as t:
        t.progressed = part.size > start
        raise


def _transfer_once(http: _Http, target: _Target, part: _PartFile, meter: _Meter) -> None:
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
            raise _Transient(DownloadError(f"{remote.name}: the server refused the byte range"))
        total = _start_offset(response, part, target)
        if remote.size is not None and total is not None and total != remote.size:
            announced = f"{total} (announced by the server)"
            raise IntegrityError(_mismatch(remote, target.url, "size", remote.size, announced))
        expected = remote.size if remote.size is not None else total
        meter.set(part.size, expected)
        for chunk in _chunks(response, target, part):
            _append(part, chunk, target, expected)
            meter.advance(len(chunk))
    if expected is not None and part.size < expected:
        raise _Transient(
            DownloadError(
                f"{remote.name}: the connection kept closing early ({part.size} of "
                f"{expected} bytes); run again to resume from the .part file"
            )
        )


def _mismatch(remote: RemoteFile, url: str, what: str, expected: object, got: object) -> str:
    return (
        f"{remote.name}: {what} mismatch: expected {expected}, got {got} (from {redact_url(url)})"
    )


def _verify(target: _Target, size: int, digest: Callable[[str], str]) -> None:
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


def _fetch(http: _Http, target: _Target, meter: _Meter) -> tuple[int, str]:
    """Download, check and move into place; returns (size, sha256)."""
    algorithms = [target.remote.algorithm] if target.remote.algorithm else []
    part = _PartFile(target.part_path, algorithms)
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


def _hash_file(path: Path, algorithms: Sequence[str]) -> tuple[int, dict[str, str]]:
    hashes = {a: hashlib.new(a) for a in dict.fromkeys(("sha256", *algorithms))}
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            size += len(chunk)
            for h in hashes.values():
                h.update(chunk)
    return size, {a: h.hexdigest() for a, h in hashes.items()}


def _already_there(target: _Target, recorded: dict[str, Any] | None) -> tuple[int, str] | None:
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
    size, digests = _hash_file(target.final, algorithms)
    try:
        _verify(target, size, digests.__getitem__)
    except IntegrityError as exc:
        raise IntegrityError(
            f"{exc}; {target.final} was already there and is left as it is: "
            "remove it and run again to download it"
        ) from None
    return size, digests["sha256"]


# --- the whole download ---------------------------------------------------------------------------


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
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


def download_spec(corpus: str) -> DownloadSpec:
    """The DOWNLOADS spec of a corpus, by its CLI name."""
    module_name = DOWNLOAD_MODULES.get(corpus)
    if module_name is None:
        known = ", ".join(sorted(DOWNLOAD_MODULES))
        raise UsageError(f"unknown corpus {corpus!r} (known: {known})")
    spec = getattr(importlib.import_module(module_name), "DOWNLOADS", None)
    if not isinstance(spec, DownloadSpec):
        raise UsageError(f"{corpus}: {module_name} names no DOWNLOADS to fetch")
    return spec


def _check_options(
    spec: DownloadSpec,
    user: str | None,
    password: str | None,
    mirror: str | None,
    date: str | None,
    multistream: bool,
) -> None:
    if spec.resolver is None and (date is not None or multistream):
        raise UsageError(f"--date and --multistream do not apply to {spec.corpus}")
    if user is not None and password is None:
        raise UsageError(
            f"--user {user!r} needs a password: --password-file FILE or ${PASSWORD_ENV}"
        )
    if user is None and password is not None:
        raise UsageError("a password needs a user name: --user NAME")
    needs_login = spec.auth or any(f.auth for f in spec.files)
    if needs_login and user is None and mirror is None:
        where = f" (register at {spec.homepage})" if spec.homepage else ""
        raise UsageError(
            f"{spec.corpus} is served to registered users only{where}: give --user NAME and "
            f"the password in --password-file FILE or ${PASSWORD_ENV}"
        )


def _make_folder(to: str | os.PathLike[str]) -> Path:
    folder = Path(to)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{folder}: cannot create the folder ({exc.strerror})") from None
    return folder


def _bring(
    http: _Http,
    target: _Target,
    sources: dict[str, dict[str, Any]],
    progress: Progress | None,
) -> FetchedFile | None:
    """One file into the folder, checked and recorded; None for a missing optional file."""
    name = target.remote.name
    present = _already_there(target, sources.get(name))
    fetched = present is None
    if present is None:
        target.final.parent.mkdir(parents=True, exist_ok=True)
        log.info("fetching %s from %s", name, redact_url(target.url))
        try:
            present = _fetch(http, target, _Meter(progress, name))
        except RemoteNotFound:
            if not target.remote.optional:
                raise
            log.warning("%s: not found at %s; skipped", name, redact_url(target.url))
            return None
    size, sha256 = present
    url = redact_url(target.url)
    sources[name] = {"path": name, "url": url, "size": size, "sha256": sha256}
    return FetchedFile(target.final, name, url, size, sha256, fetched)


def download(
    corpus: str | DownloadSpec,
    to: str | os.PathLike[str],
    *,
    user: str | None = None,
    password: str | None = None,
    mirror: str | None = None,
    lang: str = "en",
    date: str | None = None,
    multistream: bool = False,
    progress: bool = True,
    retry: RetryPolicy | None = None,
    session: requests.Session | None = None,
) -> list[FetchedFile]:
    """Fetch every file of `corpus` (a name or a spec) into the raw folder `to`, checked.

    Files already there and checked are not fetched again; an interrupted run resumes from
    the `.part` files. Returns the files in the spec's order. `mirror` replaces the spec's base
    URL; `lang`, `date`, `multistream` choose a Wikipedia dump (date None: the newest complete).
    """
    spec = corpus if isinstance(corpus, DownloadSpec) else download_spec(corpus)
    _check_options(spec, user, password, mirror, date, multistream)
    base = _base_url(spec, mirror)
    folder = _make_folder(to)
    owns_session = session is None
    http = _Http(session or requests.Session(), retry or RetryPolicy(), user, password)
    http.session.headers.update(
        {"User-Agent": f"graves-data/{__version__}", "Accept-Encoding": "identity"}
    )
    try:
        with _folder_lock(folder), _progress_bars(progress) as bars:
            context = _context(http, spec, base, folder, (lang, date, multistream))
            files = spec.resolve(context)
            return _bring_all(http, base, folder, files, bars)
    finally:
        if owns_session:
            http.session.close()


def _context(
    http: _Http,
    spec: DownloadSpec,
    base: str,
    folder: Path,
    options: tuple[str, str | None, bool],
) -> ResolveContext:
    recorded = {str(e["path"]) for e in read_sources_json(folder)}

    def fetch_text(relative: str) -> str | None:
        return http.text(join_url(base, relative), relative, auth=spec.auth)

    def local_text(name: str) -> str | None:
        if name not in recorded:
            return None
        with contextlib.suppress(OSError, UnicodeDecodeError):
            return (folder / name).read_text(encoding="utf-8")
        return None

    lang, date, multistream = options
    return ResolveContext(base, lang, date, multistream, fetch_text, local_text)


def _bring_all(
    http: _Http, base: str, folder: Path, files: Sequence[RemoteFile], bars: Progress | None
) -> list[FetchedFile]:
    sources = {str(e["path"]): e for e in read_sources_json(folder)}
    results: list[FetchedFile] = []
    for remote in files:
        target = _Target(remote, join_url(base, remote.url), folder / remote.name)
        result = _bring(http, target, sources, bars)
        if result is not None:
            results.append(result)
            _write_sources(folder, sources)
    return results


# --- Wikipedia: dated dumps and their published checksum lists ------------------------------------

_DATE = re.compile(r"\d{8}")
_LANG = re.compile(r"[a-z][a-z0-9_-]{0,30}")
_NEWEST_TRIED = 6


def wikimedia_dump_files(context: ResolveContext) -> tuple[RemoteFile, ...]:
    """The files of one Wikipedia dump, each with the checksum its dump publishes.

    Reads `<lang>wiki/<date>/<lang>wiki-<date>-sha1sums.txt` (or md5sums), so a date the dump
    site does not have, or a dump still running, is reported before any large transfer. With
    no date, takes the newest dump on the index page that lists the wanted files.
    """
    if not _LANG.fullmatch(context.lang):
        raise UsageError(f"--lang {context.lang!r} is not a Wikipedia language code")
    wiki = f"{context.lang}wiki"
    names = _dump_names(wiki, "{date}", context.multistream)
    if context.date is None:
        date, listing = _newest_dump(context, wiki, names)
    else:
        date, listing = context.date, _dated_dump(context, wiki, context.date, names)
    return _dump_remote_files(context, wiki, date, listing, names)


def _dated_dump(context: ResolveContext, wiki: str, date: str, names: list[str]) -> _Listing:
    if not _DATE.fullmatch(date):
        raise UsageError(f"--date {date!r}: give the dump date as YYYYMMDD")
    wanted = [n.replace("{date}", date) for n in names]
    listing = _checksum_listing(context, wiki, date, wanted)
    if listing is None:
        raise DumpNotFound(_no_dump_message(context, wiki, date))
    return listing


def _dump_names(wiki: str, date: str, multistream: bool) -> list[str]:
    if multistream:
        return [
            f"{wiki}-{date}-pages-articles-multistream.xml.bz2",
            f"{wiki}-{date}-pages-articles-multistream-index.txt.bz2",
        ]
    return [f"{wiki}-{date}-pages-articles.xml.bz2"]


@dataclass(frozen=True)
class _Listing:
    """A dump's published checksum file: its name, algorithm and {file name: digest}."""

    name: str
    algorithm: Algorithm
    digests: dict[str, str]


def _checksum_listing(
    context: ResolveContext, wiki: str, date: str, wanted: Sequence[str]
) -> _Listing | None:
    """The dump's published checksums: the copy an earlier run fetched when it lists every
    wanted file, else the site's sha1sums (or md5sums) file; None when the site has neither."""
    algorithms: tuple[Algorithm, ...] = ("sha1", "md5")
    for algorithm in algorithms:
        name = f"{wiki}-{date}-{algorithm}sums.txt"
        text = context.local_text(name)
        if text is not None:
            listing = _Listing(name, algorithm, _parse_checksums(text, algorithm))
            if all(n in listing.digests for n in wanted):
                return listing
    for algorithm in algorithms:
        name = f"{wiki}-{date}-{algorithm}sums.txt"
        text = context.fetch_text(f"{wiki}/{date}/{name}")
        if text is not None:
            return _Listing(name, algorithm, _parse_checksums(text, algorithm))
    return None


def _parse_checksums(text: str, algorithm: Algorithm) -> dict[str, str]:
    digests: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and re.fullmatch(f"[0-9a-f]{{{_HEX_LENGTH[algorithm]}}}", fields[0]):
            digests[fields[1].lstrip("*")] = fields[0]
    return digests


def _dump_dates(context: ResolveContext, wiki: str) -> list[str] | None:
    """The dump dates on `<base>/<wiki>/`, oldest first; None when the page cannot be read."""
    try:
        page = context.fetch_text(f"{wiki}/")
    except DownloadError:
        return None
    if page is None:
        return None
    return sorted(set(re.findall(r'href="(\d{8})/?"', page)))


def _no_dump_message(context: ResolveContext, wiki: str, date: str) -> str:
    where = redact_url(join_url(context.base_url, f"{wiki}/{date}/"))
    head = f"no {wiki} dump dated {date} at {where} (no checksum file there, HTTP 404)"
    dates = _dump_dates(context, wiki)
    index = redact_url(join_url(context.base_url, f"{wiki}/"))
    if dates is None:
        return f"{head}; see {index} for the dates there, or check --lang"
    if not dates:
        return f"{head}; {index} lists no dump dates"
    return f"{head}; dates there now: {', '.join(dates[-_NEWEST_TRIED:])}"


def _newest_dump(context: ResolveContext, wiki: str, names: list[str]) -> tuple[str, _Listing]:
    dates = _dump_dates(context, wiki)
    index = redact_url(join_url(context.base_url, f"{wiki}/"))
    if not dates:
        raise DumpNotFound(f"cannot list the {wiki} dumps at {index}; give --date YYYYMMDD")
    for date in reversed(dates[-_NEWEST_TRIED:]):
        wanted = [n.replace("{date}", date) for n in names]
        listing = _checksum_listing(context, wiki, date, wanted)
        if listing is not None and all(n in listing.digests for n in wanted):
            log.info("newest complete %s dump: %s", wiki, date)
            return date, listing
    raise DumpNotFound(
        f"none of the newest {wiki} dumps at {index} ({', '.join(dates[-_NEWEST_TRIED:])}) "
        "lists the pages-articles files yet; give an older --date YYYYMMDD"
    )


def _dump_remote_files(
    context: ResolveContext, wiki: str, date: str, listing: _Listing, names: list[str]
) -> tuple[RemoteFile, ...]:
    files: list[RemoteFile] = []
    for pattern in names:
        name = pattern.replace("{date}", date)
        digest = listing.digests.get(name)
        if digest is None:
            status = redact_url(join_url(context.base_url, f"{wiki}/{date}/dumpstatus.json"))
            raise DumpNotFound(
                f"{wiki} dump {date} does not list {name} in {listing.name}: the dump may still "
                f"be running (see {status}); try an earlier --date"
            )
        files.append(RemoteFile(f"{wiki}/{date}/{name}", name, None, digest, listing.algorithm))
    files.append(RemoteFile(f"{wiki}/{date}/{listing.name}", listing.name))
    return tuple(files)


# --- command line ---------------------------------------------------------------------------------


def read_password(
    password_file: Path | None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The password: the first line of `password_file`, else `$GRAVES_DATA_IAM_PASSWORD`."""
    if password_file is None:
        return environ.get(PASSWORD_ENV) or None
    try:
        text = password_file.read_text(encoding="utf-8")
        mode = password_file.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{password_file}: cannot read the password file ({exc})") from None
    password = text.splitlines()[0] if text.splitlines() else ""
    if not password:
        raise UsageError(f"{password_file}: empty; put the password on its first line")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s can be read by other users: chmod 600 it", password_file)
    return password


@click.command("download")
@click.argument("corpus", type=click.Choice(sorted(DOWNLOAD_MODULES)))
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Raw folder to fill (created if missing); `graves-data build --raw` reads it.",
)
@click.option("--user", envvar=USER_ENV, help=f"IAM-OnDB login (or ${USER_ENV}).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File whose first line is the IAM-OnDB password (or ${PASSWORD_ENV}).",
)
@click.option("--mirror", metavar="URL", help="Fetch from this base URL instead of the official.")
@click.option("--lang", default="en", show_default=True, help="Wikipedia language code.")
@click.option("--date", help="Wikipedia dump date, YYYYMMDD (default: the newest complete).")
@click.option("--multistream", is_flag=True, help="Wikipedia: the multistream dump and index.")
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def download_command(
    corpus: str,
    to: Path,
    user: str | None,
    password_file: Path | None,
    mirror: str | None,
    lang: str,
    date: str | None,
    multistream: bool,
    progress: bool,
) -> None:
    """Fetch CORPUS from its official release into a raw folder, resumable and checked."""
    try:
        password = read_password(password_file) if user is not None else None
        if user is None and password_file is not None:
            raise UsageError("--password-file needs --user")
        files = download(
            corpus,
            to,
            user=user,
            password=password,
            mirror=mirror,
            lang=lang,
            date=date,
            multistream=multistream,
            progress=progress,
        )
    except GravesDataError as exc:
        click.echo(f"error: {exc}", err=True)
        click.get_current_context().exit(exc.exit_code)
    for f in files:
        state = "fetched" if f.fetched else "already there"
        click.echo(f"{f.name}  {_human_bytes(f.size)}  sha256 {f.sha256}  ({state})")
    click.echo(f"{len(files)} files in {to}, listed in {to / SOURCES_FILE}")
