"""HTTP and retries: one request, what can go wrong with it, and how patiently to try again.

Transient failures (connection reset or refused, timeouts, HTTP 5xx, 429 with its Retry-After,
a stalled transfer) are retried with exponential backoff, counted per file and reset by
progress; anything else is a clear `DownloadError` at once. Passwords go out as HTTP basic auth
only and never into a URL, a log line or an error message.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
import urllib3.exceptions
from requests.auth import HTTPBasicAuth

from graves_data.download.spec import host, redact_url
from graves_data.errors import (
    AuthenticationFailed,
    DownloadError,
    RemoteNotFound,
    SiteUnreachable,
)

log = logging.getLogger("graves_data.download")
_T = TypeVar("_T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one file; `sleep` is replaceable for tests.

    The stall rule: a transfer that brings fewer than `stall_bytes` in `stall_seconds` is
    given up (the read timeout alone is per read, so a server trickling a byte a second would
    be waited on for days) and retried, resuming from the part file, which is kept.
    """

    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 120.0
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    stall_bytes: int = 64 << 10
    stall_seconds: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def delay(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after `failures` consecutive failures (1, 2, ...)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return float(min(self.base_delay * 2 ** (failures - 1), self.max_delay))


class StallWatch:
    """The stall rule of one transfer: `feed` the size of each chunk as it arrives."""

    def __init__(self, retry: RetryPolicy) -> None:
        self._retry = retry
        self._since = retry.clock()
        self._bytes = 0

    @property
    def minimum(self) -> str:
        return f"{self._retry.stall_bytes} bytes in {self._retry.stall_seconds:g} s"

    def feed(self, n: int) -> bool:
        """Count `n` more bytes; True when the current interval ended below the minimum."""
        self._bytes += n
        now = self._retry.clock()
        if now - self._since < self._retry.stall_seconds:
            return False
        stalled = self._bytes < self._retry.stall_bytes
        self._since, self._bytes = now, 0
        return stalled


class Transient(Exception):
    """A failure worth retrying; `final` is what to raise when the retries are used up, and
    `progressed` whether the attempt got the file further than it was before (a stalled
    transfer never counts as progress, or a trickle would be retried for ever)."""

    def __init__(
        self, final: DownloadError, retry_after: float | None = None, stalled: bool = False
    ) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after
        self.stalled = stalled
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
    site = host(url)
    if problem == "host name not found (DNS)":
        return SiteUnreachable(f"cannot reach {site}: {problem}; check the URL or --mirror")
    if problem is not None:
        return Transient(
            SiteUnreachable(
                f"cannot reach {site}: {problem}; the site may be down: try again later "
                "or fetch from another copy with --mirror URL"
            )
        )
    reason = "timed out" if isinstance(exc, requests.exceptions.Timeout) else type(exc).__name__
    return Transient(DownloadError(f"{redact_url(url)}: request failed ({reason})"))


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
            f"{host(url)} refused access {who} (HTTP {status}) to {what}; "
            "check --user and the password file"
        )
    if status == 404:
        return RemoteNotFound(f"{what}: not found at {where} (HTTP 404)")
    label = f"HTTP {status} {response.reason or ''}".rstrip()
    if status == 429 or status >= 500:
        final = DownloadError(
            f"{what}: {host(url)} kept answering {label}; try again later or use --mirror URL"
        )
        return Transient(final, _retry_after(response.headers.get("Retry-After")))
    return DownloadError(f"{what}: {where} answered {label}")


class Http:
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
        """One GET (streamed); raises `Transient` or a DownloadError for anything but 2xx/416."""
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
        """Run `attempt` until it returns, backing off after each `Transient` it raises."""
        failures = 0
        while True:
            try:
                return attempt()
            except Transient as t:
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
