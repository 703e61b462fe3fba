"""graves_data.download against a local HTTP server on 127.0.0.1: never a real host.

The server serves generated archives with the behaviours the downloader must survive: basic
auth, byte ranges (or none), a connection dropped mid-file, 503/429 before success, 404, and a
forwarding proxy for the proxy variables. Backoff sleeps are recorded, not slept.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import http.client
import io
import json
import logging
import os
import random
import socket
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from graves_data import download as dl
from graves_data.cli import main
from graves_data.corpora.wikipedia.downloads import wikimedia_dump_files
from graves_data.download import (
    AuthenticationFailed,
    DiskFull,
    DownloadError,
    DownloadSpec,
    DumpNotFound,
    IntegrityError,
    RemoteFile,
    RemoteNotFound,
    RetryPolicy,
    SiteUnreachable,
    SourcesFileError,
    download,
    read_sources_json,
)
from graves_data.download import run as dl_run
from graves_data.download.parts import PartFile
from graves_data.errors import UsageError

PASSWORD = "s3cr3t-Pa55w0rd"
USER = "graves"

# --- generated release files ----------------------------------------------------------------------


def make_targz(seed: int, n_bytes: int = 300_000) -> bytes:
    """A small real .tar.gz (incompressible members, so its size is about n_bytes)."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for i in range(3):
            data = rng.randbytes(n_bytes // 3)
            info = tarfile.TarInfo(f"lineStrokes/a0{i}/a0{i}-000/a0{i}-000u-01.xml")
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the local server -----------------------------------------------------------------------------


@dataclass
class Served:
    body: bytes
    auth: tuple[str, str] | None = None
    ignore_range: bool = False
    drop_at: int | None = None  # close the connection once this byte offset is sent...
    drops: int = 0  # ...on this many responses
    fail: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # answered first
    headers: dict[str, str] = field(default_factory=dict)
    trickle: tuple[int, float] | None = None  # send (bytes, then pause seconds) at a time


@dataclass
class Hit:
    path: str
    range: str | None
    authorization: str | None
    status: int = 0


class Site:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.files: dict[str, Served] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def add(self, path: str, body: bytes, **kw: Any) -> Served:
        served = Served(body, **kw)
        self.files["/" + path.lstrip("/")] = served
        return served

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def site(self) -> Site:
        site: Site = self.server.site  # type: ignore[attr-defined]
        return site

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        hit = Hit(path, self.headers.get("Range"), self.headers.get("Authorization"))
        with self.site.lock:
            self.site.hits.append(hit)
            served = self.site.files.get(path)
            fail = served.fail.pop(0) if served is not None and served.fail else None
            drop = served is not None and served.drops > 0
            if served is not None and drop:
                served.drops -= 1
        if served is None:
            return self.status(hit, 404)
        if fail is not None:
            return self.status(hit, fail[0], fail[1])
        if served.auth and hit.authorization != basic(*served.auth):
            return self.status(hit, 401, {"WWW-Authenticate": 'Basic realm="iam"'})
        self.body(hit, served, drop)

    def status(self, hit: Hit, code: int, headers: dict[str, str] | None = None) -> None:
        hit.status = code
        payload = f"status {code}\n".encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def body(self, hit: Hit, served: Served, drop: bool) -> None:
        body, start, headers = served.body, 0, dict(served.headers)
        if hit.range and not served.ignore_range:
            start = int(hit.range.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                return self.status(hit, 416, {"Content-Range": f"bytes */{len(body)}"})
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        hit.status = 206 if "Content-Range" in headers else 200
        payload = body[start:]
        self.send_response(hit.status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if drop and served.drop_at is not None:
            self.wfile.write(payload[: max(served.drop_at - start, 0)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if served.trickle is not None:
            size, pause = served.trickle
            with contextlib.suppress(OSError):
                for at in range(0, len(payload), size):
                    self.wfile.write(payload[at : at + size])
                    self.wfile.flush()
                    time.sleep(pause)
            return
        self.wfile.write(payload)


class HangUpServer(ThreadingHTTPServer):
    """A client that hangs up on a kept-alive connection (the downloader after a 401, a retry,
    the end of a test) is no fault of the server: `socketserver` would print its traceback to
    whatever `sys.stderr` is then, which may be a `CliRunner`'s captured output of another
    test. Every other error is printed as usual."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = HangUpServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def site() -> Iterator[Site]:
    server = serve(SiteHandler)
    site = Site(server)
    server.site = site  # type: ignore[attr-defined]
    yield site
    server.shutdown()
    server.server_close()


class ProxyHandler(BaseHTTPRequestHandler):
    """A forwarding HTTP proxy: takes absolute-form requests and replays them to the origin."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        target = urlsplit(self.path)
        skip = {"proxy-connection", "connection", "host", "keep-alive"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=5)
        conn.request("GET", target.path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    server = serve(ProxyHandler)
    server.seen = []  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy, netrc or credentials from the machine running the tests."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv(dl.PASSWORD_ENV, raising=False)
    monkeypatch.delenv(dl.USER_ENV, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def retry(sleeps: list[float]) -> RetryPolicy:
    return RetryPolicy(
        attempts=4, base_delay=0.5, connect_timeout=2, read_timeout=5, sleep=sleeps.append
    )


def spec(base: str, *files: RemoteFile, auth: bool = False) -> DownloadSpec:
    return DownloadSpec("test", base, files=files, auth=auth, homepage="https://example.org/")


def dead_url() -> str:
    """A loopback URL where nothing listens: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def sources_text(folder: Path) -> str:
    return (folder / "SOURCES.json").read_text()


# --- the happy path -------------------------------------------------------------------------------


def test_fetches_checked_files_and_records_their_sources(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    strokes, ascii_ = make_targz(1), make_targz(2)
    site.add("data/lineStrokes-all.tar.gz", strokes)
    site.add("data/ascii-all.tar.gz", ascii_)
    files = (
        RemoteFile("data/lineStrokes-all.tar.gz", "lineStrokes-all.tar.gz", len(strokes)),
        RemoteFile("data/ascii-all.tar.gz", "ascii-all.tar.gz", None, sha256(ascii_), "sha256"),
    )
    raw = tmp_path / "raw"
    got = download(spec(site.url, *files), raw, progress=False, retry=retry)

    assert [f.name for f in got] == ["lineStrokes-all.tar.gz", "ascii-all.tar.gz"]
    assert all(f.fetched for f in got)
    assert (raw / "lineStrokes-all.tar.gz").read_bytes() == strokes
    assert (raw / "ascii-all.tar.gz").read_bytes() == ascii_
    assert got[0].sha256 == sha256(strokes) and got[0].size == len(strokes)
    assert not list(raw.glob("*.part"))
    doc = json.loads(sources_text(raw))
    assert doc == {
        "files": [
            {
                "path": "ascii-all.tar.gz",
                "url": site.url + "data/ascii-all.tar.gz",
                "size": len(ascii_),
                "sha256": sha256(ascii_),
            },
            {
                "path": "lineStrokes-all.tar.gz",
                "url": site.url + "data/lineStrokes-all.tar.gz",
                "size": len(strokes),
                "sha256": sha256(strokes),
            },
        ]
    }
    assert read_sources_json(raw) == doc["files"]
    with tarfile.open(raw / "lineStrokes-all.tar.gz") as tar:
        assert len(tar.getnames()) == 3


def test_published_md5_and_sha1_are_checked(site: Site, tmp_path: Path, retry: RetryPolicy) -> None:
    data = make_targz(3, 50_000)
    site.add("a.tgz", data)
    site.add("b.tgz", data)
    files = (
        RemoteFile("a.tgz", "a.tgz", None, hashlib.md5(data).hexdigest(), "md5"),
        RemoteFile("b.tgz", "b.tgz", None, hashlib.sha1(data).hexdigest(), "sha1"),
    )
    got = download(spec(site.url, *files), tmp_path, progress=False, retry=retry)
    assert [f.sha256 for f in got] == [sha256(data)] * 2


def test_progress_bar_does_not_disturb_the_download(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(4, 30_000)
    site.add("x.tgz", data)
    got = download(spec(site.url, RemoteFile("x.tgz", "x.tgz")), tmp_path, retry=retry)
    assert got[0].size == len(data) and (tmp_path / "x.tgz").read_bytes() == data


def test_bytes_are_stored_as_served_even_when_labelled_gzip(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(5, 30_000)
    site.add("x.tar.gz", data, headers={"Content-Encoding": "gzip"})
    remote = RemoteFile("x.tar.gz", "x.tar.gz", len(data), sha256(data), "sha256")
    download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    assert (tmp_path / "x.tar.gz").read_bytes() == data


# --- resuming -------------------------------------------------------------------------------------


def test_dropped_connection_resumes_with_a_range_request(
    site: Site, tmp_path: Path, retry: RetryPolicy, sleeps: list[float]
) -> None:
    data = make_targz(6, 600_000)
    site.add("big.tgz", data, drop_at=250_000, drops=1)
    remote = RemoteFile("big.tgz", "big.tgz", len(data), sha256(data), "sha256")
    got = download(spec(site.url, remote), tmp_path, progress=False, retry=retry)

    assert (tmp_path / "big.tgz").read_bytes() == data
    assert got[0].sha256 == sha256(data)
    assert [(h.range, h.status) for h in site.hits] == [(None, 200), ("bytes=250000-", 206)]
    assert sleeps == [0.5]


def test_part_file_from_an_interrupted_run_is_continued(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(7, 400_000)
    site.add("big.tgz", data)
    (tmp_path / "big.tgz.part").write_bytes(data[:123_456])
    remote = RemoteFile("big.tgz", "big.tgz", len(data), sha256(data), "sha256")
    download(spec(site.url, remote), tmp_path, progress=False, retry=retry)

    assert (tmp_path / "big.tgz").read_bytes() == data
    assert [h.range for h in site.hits] == ["bytes=123456-"]
    assert not (tmp_path / "big.tgz.part").exists()


def test_server_that_ignores_range_gets_the_file_again_from_zero(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(8, 200_000)
    site.add("big.tgz", data, ignore_range=True)
    (tmp_path / "big.tgz.part").write_bytes(b"stale bytes from somewhere else")
    remote = RemoteFile("big.tgz", "big.tgz", None, sha256(data), "sha256")
    download(spec(site.url, remote), tmp_path, progress=False, retry=retry)

    assert (tmp_path / "big.tgz").read_bytes() == data
    assert [(h.range, h.status) for h in site.hits] == [("bytes=31-", 200)]


def test_complete_part_file_is_checked_without_a_transfer(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(9, 50_000)
    site.add("x.tgz", data)
    (tmp_path / "x.tgz.part").write_bytes(data)
    remote = RemoteFile("x.tgz", "x.tgz", len(data), sha256(data), "sha256")
    download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    assert site.hits == [] and (tmp_path / "x.tgz").read_bytes() == data


# --- idempotence ----------------------------------------------------------------------------------


def test_second_run_makes_no_request_for_checked_files(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(10, 100_000)
    site.add("x.tgz", data)
    site.add("y.tgz", data)
    the_spec = spec(site.url, RemoteFile("x.tgz", "x.tgz"), RemoteFile("y.tgz", "sub/y.tgz"))
    download(the_spec, tmp_path, progress=False, retry=retry)
    first = sources_text(tmp_path)
    requests_made = len(site.hits)

    again = download(the_spec, tmp_path, progress=False, retry=retry)
    assert len(site.hits) == requests_made == 2
    assert [f.fetched for f in again] == [False, False]
    assert sources_text(tmp_path) == first
    assert (tmp_path / "sub" / "y.tgz").read_bytes() == data


def test_file_already_there_is_verified_instead_of_fetched(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(11, 50_000)
    site.add("x.tgz", data)
    (tmp_path / "x.tgz").write_bytes(data)
    remote = RemoteFile("x.tgz", "x.tgz", len(data), sha256(data), "sha256")
    got = download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    assert site.hits == [] and not got[0].fetched
    assert read_sources_json(tmp_path)[0]["sha256"] == sha256(data)


def test_wrong_file_already_there_is_left_alone_and_reported(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(12, 50_000)
    site.add("x.tgz", data)
    (tmp_path / "x.tgz").write_bytes(b"not the release")
    remote = RemoteFile("x.tgz", "x.tgz", None, sha256(data), "sha256")
    with pytest.raises(IntegrityError, match=r"x\.tgz: sha256 mismatch.*remove it"):
        download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    assert (tmp_path / "x.tgz").read_bytes() == b"not the release" and site.hits == []


# --- checks ---------------------------------------------------------------------------------------


def test_checksum_mismatch_keeps_nothing_and_says_what_differed(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(13, 80_000)
    site.add("x.tgz", data)
    wrong = "0" * 64
    remote = RemoteFile("x.tgz", "x.tgz", len(data), wrong, "sha256")
    with pytest.raises(IntegrityError) as caught:
        download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    message = str(caught.value)
    assert "x.tgz: sha256 mismatch" in message
    assert f"expected {wrong}, got {sha256(data)}" in message
    assert "\n" not in message
    assert not (tmp_path / "x.tgz").exists() and not (tmp_path / "x.tgz.part").exists()
    assert read_sources_json(tmp_path) == []


def test_size_mismatch_is_caught_before_the_transfer(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    data = make_targz(14, 80_000)
    site.add("x.tgz", data)
    remote = RemoteFile("x.tgz", "x.tgz", len(data) + 1)
    with pytest.raises(IntegrityError, match=f"size mismatch: expected {len(data) + 1}, got"):
        download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    assert not (tmp_path / "x.tgz").exists() and not (tmp_path / "x.tgz.part").exists()


# --- HTTP errors and retries ----------------------------------------------------------------------


def test_service_unavailable_then_success_is_retried_with_backoff(
    site: Site, tmp_path: Path, retry: RetryPolicy, sleeps: list[float]
) -> None:
    data = make_targz(15, 50_000)
    site.add("x.tgz", data, fail=[(503, {}), (503, {})])
    download(spec(site.url, RemoteFile("x.tgz", "x.tgz")), tmp_path, progress=False, retry=retry)
    assert (tmp_path / "x.tgz").read_bytes() == data
    assert [h.status for h in site.hits] == [503, 503, 200]
    assert sleeps == [0.5, 1.0]


def test_too_many_requests_honours_retry_after(
    site: Site, tmp_path: Path, retry: RetryPolicy, sleeps: list[float]
) -> None:
    data = make_targz(16, 20_000)
    site.add("x.tgz", data, fail=[(429, {"Retry-After": "7"})])
    download(spec(site.url, RemoteFile("x.tgz", "x.tgz")), tmp_path, progress=False, retry=retry)
    assert sleeps == [7.0] and (tmp_path / "x.tgz").read_bytes() == data


def test_server_errors_that_persist_give_up_with_the_status(
    site: Site, tmp_path: Path, retry: RetryPolicy, sleeps: list[float]
) -> None:
    site.add("x.tgz", b"x", fail=[(502, {})] * 10)
    with pytest.raises(DownloadError, match=r"x\.tgz: 127\.0\.0\.1 kept answering HTTP 502"):
        download(
            spec(site.url, RemoteFile("x.tgz", "x.tgz")), tmp_path, progress=False, retry=retry
        )
    assert len(site.hits) == 4 and sleeps == [0.5, 1.0, 2.0]
    assert not (tmp_path / "x.tgz").exists()


def test_not_found_names_the_file_and_url(site: Site, tmp_path: Path, retry: RetryPolicy) -> None:
    with pytest.raises(RemoteNotFound, match=r"x.tgz: not found at http://127\.0\.0\.1:\d+/x"):
        download(spec(site.url, RemoteFile("x", "x.tgz")), tmp_path, progress=False, retry=retry)
    assert len(site.hits) == 1 and not (tmp_path / "x.tgz").exists()


def test_missing_optional_file_is_skipped_with_a_warning(
    site: Site, tmp_path: Path, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    site.add("a.txt", b"a01-000u\n")
    files = (
        RemoteFile("lists/trainset.txt", "trainset.txt", optional=True),
        RemoteFile("a.txt", "a.txt"),
    )
    with caplog.at_level(logging.WARNING, logger="graves_data.download"):
        got = download(spec(site.url, *files), tmp_path, progress=False, retry=retry)
    assert [f.name for f in got] == ["a.txt"]
    assert "trainset.txt: not found" in caplog.text
    assert [e["path"] for e in read_sources_json(tmp_path)] == ["a.txt"]


def test_site_down_is_a_clear_error(
    tmp_path: Path, retry: RetryPolicy, sleeps: list[float]
) -> None:
    with pytest.raises(SiteUnreachable, match=r"cannot reach 127\.0\.0\.1: connection refused"):
        download(spec(dead_url(), RemoteFile("x", "x")), tmp_path, progress=False, retry=retry)
    assert len(sleeps) == 3
    assert not (tmp_path / "x").exists()


def test_unknown_host_is_not_retried(
    tmp_path: Path, retry: RetryPolicy, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "dumps.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(SiteUnreachable, match=r"dumps.invalid: host name not found \(DNS\)"):
        download(
            spec("http://dumps.invalid/", RemoteFile("x", "x")),
            tmp_path,
            progress=False,
            retry=retry,
        )
    assert sleeps == []


# --- login ----------------------------------------------------------------------------------------


def test_basic_auth_login(site: Site, tmp_path: Path, retry: RetryPolicy) -> None:
    data = make_targz(17, 30_000)
    site.add("data/x.tgz", data, auth=(USER, PASSWORD))
    the_spec = spec(site.url, RemoteFile("data/x.tgz", "x.tgz", auth=True), auth=True)
    download(the_spec, tmp_path, user=USER, password=PASSWORD, progress=False, retry=retry)
    assert (tmp_path / "x.tgz").read_bytes() == data
    assert site.hits[-1].authorization == basic(USER, PASSWORD)


def test_wrong_password_is_a_clear_error(site: Site, tmp_path: Path, retry: RetryPolicy) -> None:
    site.add("data/x.tgz", b"x", auth=(USER, PASSWORD))
    the_spec = spec(site.url, RemoteFile("data/x.tgz", "x.tgz", auth=True), auth=True)
    with pytest.raises(AuthenticationFailed) as caught:
        download(the_spec, tmp_path, user=USER, password="wrong", progress=False, retry=retry)
    assert str(caught.value) == (
        "127.0.0.1 refused access for user 'graves' (HTTP 401) to x.tgz; "
        "check --user and the password file"
    )
    assert not (tmp_path / "x.tgz").exists() and len(site.hits) == 1


def test_login_is_required_before_any_request(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    the_spec = spec(site.url, RemoteFile("x", "x", auth=True), auth=True)
    with pytest.raises(UsageError, match=r"registered users only.*--password-file"):
        download(the_spec, tmp_path, progress=False, retry=retry)
    with pytest.raises(UsageError, match="needs a password"):
        download(the_spec, tmp_path, user=USER, progress=False, retry=retry)
    assert site.hits == []


def test_password_never_appears_in_logs_errors_or_sources(
    site: Site, tmp_path: Path, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    data = make_targz(18, 30_000)
    site.add("data/x.tgz", data, auth=(USER, PASSWORD))
    site.add("data/y.tgz", data, auth=(USER, PASSWORD), drop_at=10_000, drops=1)
    site.add("data/z.tgz", data, auth=(USER, PASSWORD))
    site.add("data/other.tgz", data, auth=(USER, "another password"))
    files = (
        RemoteFile("data/x.tgz", "x.tgz", auth=True),
        RemoteFile("data/y.tgz", "y.tgz", auth=True),
        RemoteFile("data/z.tgz", "z.tgz", None, "0" * 64, "sha256", auth=True),
    )
    errors: list[Exception] = []
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(IntegrityError) as bad_sum:
            download(spec(site.url, *files), tmp_path, user=USER, password=PASSWORD, retry=retry)
        errors.append(bad_sum.value)
        other = spec(site.url, RemoteFile("data/other.tgz", "other.tgz", auth=True))
        with pytest.raises(AuthenticationFailed) as refused:
            download(other, tmp_path / "b", user=USER, password=PASSWORD, retry=retry)
        errors.append(refused.value)
        with pytest.raises(SiteUnreachable) as down:
            the_spec = spec(dead_url(), *files)
            download(the_spec, tmp_path / "d", user=USER, password=PASSWORD, retry=retry)
        errors.append(down.value)
        mirror = site.url.replace("://", f"://{USER}:{PASSWORD}@")
        download(spec(dead_url(), files[0]), tmp_path / "c", mirror=mirror, progress=False)
    assert PASSWORD not in caplog.text
    for error in errors:
        assert PASSWORD not in str(error) and PASSWORD not in repr(error.args)
    for folder in (tmp_path, tmp_path / "c"):
        assert PASSWORD not in sources_text(folder)
    assert read_sources_json(tmp_path / "c")[0]["url"] == site.url + "data/x.tgz"
    assert "y.tgz" in sources_text(tmp_path)  # resumed after the drop, with the login


# --- proxies and mirrors --------------------------------------------------------------------------


def test_proxy_variables_are_honoured(
    site: Site,
    proxy: ThreadingHTTPServer,
    tmp_path: Path,
    retry: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = make_targz(19, 40_000)
    site.add("x.tgz", data)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    the_spec = spec(site.url, RemoteFile("x.tgz", "x.tgz", len(data)))
    download(the_spec, tmp_path / "a", progress=False, retry=retry)
    assert proxy.seen == [site.url + "x.tgz"]  # type: ignore[attr-defined]
    assert (tmp_path / "a" / "x.tgz").read_bytes() == data

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    download(the_spec, tmp_path / "b", progress=False, retry=retry)
    assert len(proxy.seen) == 1 and len(site.hits) == 2  # type: ignore[attr-defined]


def test_mirror_replaces_the_base_url(site: Site, tmp_path: Path, retry: RetryPolicy) -> None:
    data = make_targz(20, 20_000)
    site.add("mirror/dc/enwik8.zip", data)
    the_spec = spec(dead_url() + "dc/", RemoteFile("enwik8.zip", "enwik8.zip", len(data)))
    got = download(the_spec, tmp_path, mirror=site.url + "mirror/dc", progress=False, retry=retry)
    assert got[0].url == site.url + "mirror/dc/enwik8.zip"
    assert site.paths() == ["/mirror/dc/enwik8.zip"]
    with pytest.raises(UsageError, match="--mirror 'ftp://x/' is not an http"):
        download(the_spec, tmp_path, mirror="ftp://x/", progress=False)


# --- disk full ------------------------------------------------------------------------------------


def test_disk_full_keeps_nothing_under_the_final_name_and_stays_resumable(
    site: Site, tmp_path: Path, retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_targz(21, 300_000)
    site.add("x.tgz", data)
    remote = RemoteFile("x.tgz", "x.tgz", len(data), sha256(data), "sha256")
    real_write = PartFile._write
    room = [100_000]

    def write(self: PartFile, view: memoryview) -> int:
        if room[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(self, view[: room[0]])
        room[0] -= n
        return n

    monkeypatch.setattr(PartFile, "_write", write)
    with pytest.raises(DiskFull) as caught:
        download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    message = str(caught.value)
    assert "x.tgz: disk full after 100000 of" in message
    assert "nothing is under x.tgz" in message and "kept as" in message
    assert not (tmp_path / "x.tgz").exists()
    assert (tmp_path / "x.tgz.part").read_bytes() == data[:100_000]

    monkeypatch.setattr(PartFile, "_write", real_write)
    download(spec(site.url, remote), tmp_path, progress=False, retry=retry)
    assert (tmp_path / "x.tgz").read_bytes() == data
    assert site.hits[-1].range == "bytes=100000-"


# --- Wikipedia dumps ------------------------------------------------------------------------------


def wiki_site(site: Site, dates: dict[str, dict[str, bytes]], algorithm: str = "sha1") -> None:
    """Serve enwiki/ with an index of `dates` and, per date, its files and checksum list."""
    links = "".join(f'<a href="{d}/">{d}/</a>\n' for d in sorted(dates))
    site.add("enwiki/", f"<html><body>{links}</body></html>".encode())
    for date, files in dates.items():
        lines = "".join(f"{hashlib.new(algorithm, b).hexdigest()}  {n}\n" for n, b in files.items())
        site.add(f"enwiki/{date}/enwiki-{date}-{algorithm}sums.txt", lines.encode())
        for name, body in files.items():
            site.add(f"enwiki/{date}/{name}", body)


WIKI = DownloadSpec("wikipedia", "https://dumps.invalid/", resolver=wikimedia_dump_files)


def test_wikipedia_dump_by_date_checked_against_its_sha1sums(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    articles = make_targz(22, 60_000)
    wiki_site(site, {"20261101": {"enwiki-20261101-pages-articles.xml.bz2": articles}})
    got = download(WIKI, tmp_path, mirror=site.url, date="20261101", progress=False, retry=retry)
    assert [f.name for f in got] == [
        "enwiki-20261101-pages-articles.xml.bz2",
        "enwiki-20261101-sha1sums.txt",
    ]
    assert (tmp_path / got[0].name).read_bytes() == articles
    assert [e["path"] for e in read_sources_json(tmp_path)] == sorted(f.name for f in got)

    hits = len(site.hits)
    download(WIKI, tmp_path, mirror=site.url, date="20261101", progress=False, retry=retry)
    assert len(site.hits) == hits  # the checksum list fetched before is read from the folder


def test_wikipedia_multistream_comes_with_its_index(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    files = {
        "enwiki-20261101-pages-articles-multistream.xml.bz2": make_targz(23, 40_000),
        "enwiki-20261101-pages-articles-multistream-index.txt.bz2": b"index",
        "enwiki-20261101-pages-articles.xml.bz2": b"not wanted",
    }
    wiki_site(site, {"20261101": files}, algorithm="md5")
    got = download(
        WIKI,
        tmp_path,
        mirror=site.url,
        date="20261101",
        multistream=True,
        progress=False,
        retry=retry,
    )
    assert [f.name for f in got] == [
        "enwiki-20261101-pages-articles-multistream.xml.bz2",
        "enwiki-20261101-pages-articles-multistream-index.txt.bz2",
        "enwiki-20261101-md5sums.txt",
    ]
    assert "/enwiki/20261101/enwiki-20261101-sha1sums.txt" in site.paths()  # tried first


def test_wikipedia_without_date_takes_the_newest_complete_dump(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    wiki_site(
        site,
        {
            "20261001": {"enwiki-20261001-pages-articles.xml.bz2": b"october"},
            "20261020": {"enwiki-20261020-pages-articles.xml.bz2": b"later"},
            "20261101": {"enwiki-20261101-stub-articles.xml.gz": b"running"},
        },
    )
    got = download(WIKI, tmp_path, mirror=site.url, progress=False, retry=retry)
    assert got[0].name == "enwiki-20261020-pages-articles.xml.bz2"


def test_wikipedia_date_that_does_not_exist_says_which_dates_to_try(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    wiki_site(
        site,
        {
            "20261001": {"enwiki-20261001-pages-articles.xml.bz2": b"a"},
            "20261020": {"enwiki-20261020-pages-articles.xml.bz2": b"b"},
        },
    )
    with pytest.raises(DumpNotFound) as caught:
        download(WIKI, tmp_path, mirror=site.url, date="20261102", progress=False, retry=retry)
    assert str(caught.value) == (
        f"no enwiki dump dated 20261102 at {site.url}enwiki/20261102/ (no checksum file "
        "there, HTTP 404); dates there now: 20261001, 20261020"
    )
    with pytest.raises(UsageError, match="YYYYMMDD"):
        download(WIKI, tmp_path, mirror=site.url, date="2026-11-01", progress=False)
    assert not list(tmp_path.iterdir())


def test_wikipedia_dump_still_running_is_reported(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    wiki_site(site, {"20261101": {"enwiki-20261101-stub-articles.xml.gz": b"x"}})
    with pytest.raises(DumpNotFound, match="may still be running"):
        download(WIKI, tmp_path, mirror=site.url, date="20261101", progress=False, retry=retry)


def test_wikipedia_wrong_checksum_keeps_nothing(
    site: Site, tmp_path: Path, retry: RetryPolicy
) -> None:
    name = "enwiki-20261101-pages-articles.xml.bz2"
    wiki_site(site, {"20261101": {name: b"published"}})
    site.files[f"/enwiki/20261101/{name}"].body = b"corrupted"
    with pytest.raises(IntegrityError, match=f"{name}: sha1 mismatch: expected"):
        download(WIKI, tmp_path, mirror=site.url, date="20261101", progress=False, retry=retry)
    assert not (tmp_path / name).exists()


def test_date_options_only_apply_to_wikipedia(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="do not apply"):
        download(spec(dead_url()), tmp_path, date="20261101", progress=False)


# --- SOURCES.json, names, locking -----------------------------------------------------------------


def test_read_sources_json_missing_and_malformed(tmp_path: Path) -> None:
    assert read_sources_json(tmp_path) == []
    (tmp_path / "enwik8").write_bytes(b"a raw input that is a file")
    assert read_sources_json(tmp_path / "enwik8") == []
    (tmp_path / "SOURCES.json").write_text('{"files": [{"path": "x"}]}')
    with pytest.raises(SourcesFileError, match="malformed entry"):
        read_sources_json(tmp_path)
    (tmp_path / "SOURCES.json").write_text("{")
    with pytest.raises(SourcesFileError, match="cannot be read as JSON"):
        read_sources_json(tmp_path)


@pytest.mark.parametrize("name", ["../x", "/etc/x", ""])
def test_remote_file_names_stay_in_the_folder(name: str) -> None:
    with pytest.raises(ValueError):
        RemoteFile("x", name)


def test_checksum_needs_its_algorithm() -> None:
    with pytest.raises(ValueError):
        RemoteFile("x", "x", checksum="a" * 64)
    with pytest.raises(ValueError):
        RemoteFile("x", "x", checksum="A" * 40, algorithm="sha1")


def test_one_download_at_a_time_per_folder(site: Site, tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DownloadError, match="another graves-data download"):
            download(spec(site.url, RemoteFile("x", "x")), tmp_path, progress=False)
    finally:
        os.close(fd)
    assert site.hits == []


# --- command line ---------------------------------------------------------------------------------


@pytest.fixture
def iam_site(site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    """`iam-ondb` as the CLI knows it, pointed at the local site."""
    site.add("data/lineStrokes-all.tar.gz", make_targz(24, 30_000), auth=(USER, PASSWORD))
    the_spec = DownloadSpec(
        "iam-ondb",
        site.url,
        files=(RemoteFile("data/lineStrokes-all.tar.gz", "lineStrokes-all.tar.gz", auth=True),),
        auth=True,
    )
    monkeypatch.setattr(dl_run, "download_spec", lambda corpus: the_spec)
    return site


def test_cli_reads_the_password_from_a_file(iam_site: Site, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    args = ["iam-ondb", "--to", str(tmp_path / "raw"), "--user", USER, "--password-file"]
    result = CliRunner().invoke(main, ["download", *args, str(secret), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "lineStrokes-all.tar.gz" in result.output and "(fetched)" in result.output
    assert PASSWORD not in result.output
    assert iam_site.hits[-1].authorization == basic(USER, PASSWORD)


def test_cli_reads_user_and_password_from_the_environment(iam_site: Site, tmp_path: Path) -> None:
    env = {dl.USER_ENV: USER, dl.PASSWORD_ENV: PASSWORD}
    args = ["iam-ondb", "--to", str(tmp_path / "raw"), "--no-progress"]
    result = CliRunner().invoke(main, ["download", *args], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "raw" / "lineStrokes-all.tar.gz").exists()


def test_cli_error_is_one_line_without_traceback(iam_site: Site, tmp_path: Path) -> None:
    env = {dl.PASSWORD_ENV: "wrong-" + PASSWORD}
    args = ["iam-ondb", "--to", str(tmp_path / "raw"), "--user", USER, "--no-progress"]
    result = CliRunner().invoke(main, ["download", *args], env=env)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: 127.0.0.1 refused access for user 'graves' (HTTP 401) to "
        "lineStrokes-all.tar.gz; check --user and the password file"
    ]
    assert "Traceback" not in result.output and PASSWORD not in result.output


def test_cli_takes_no_password_on_the_command_line(tmp_path: Path) -> None:
    args = ["iam-ondb", "--to", str(tmp_path), "--user", USER, "--password", PASSWORD]
    result = CliRunner().invoke(main, ["download", *args])
    assert result.exit_code == 2 and "No such option '--password'" in result.output


def test_download_is_a_graves_data_command(iam_site: Site, tmp_path: Path) -> None:
    env = {dl.USER_ENV: USER, dl.PASSWORD_ENV: PASSWORD}
    args = ["download", "iam-ondb", "--to", str(tmp_path / "raw"), "--no-progress"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert read_sources_json(tmp_path / "raw")[0]["path"] == "lineStrokes-all.tar.gz"


# --- the corpora's own specs, pointed at the local site with --mirror --------------------------


@pytest.mark.parametrize(
    ("corpus", "base"),
    [
        ("iam-ondb", "https://fki.tic.heia-fr.ch/DBs/iamOnDB/"),
        ("enwik8", "http://mattmahoney.net/dc/"),
        ("ptb", "http://www.fit.vutbr.cz/~imikolov/rnnlm/"),
        ("wikipedia", "https://dumps.wikimedia.org/"),
    ],
)
def test_every_corpus_names_its_official_source(corpus: str, base: str) -> None:
    the_spec = dl.download_spec(corpus)
    assert the_spec.corpus == corpus and the_spec.base_url == base
    assert the_spec.files or the_spec.resolver is not None


def test_iam_ondb_release_through_a_mirror(site: Site, tmp_path: Path, retry: RetryPolicy) -> None:
    archives = ("lineStrokes-all.tar.gz", "ascii-all.tar.gz", "original-xml-all.tar.gz")
    for i, name in enumerate(archives):
        site.add(f"data/{name}", make_targz(30 + i, 20_000), auth=(USER, PASSWORD))
    for name in ("trainset", "testset_v", "testset_t"):  # testset_f.txt missing: reported
        site.add(f"{name}.txt", b"a01-000u\n")
    got = download("iam-ondb", tmp_path, user=USER, password=PASSWORD, mirror=site.url, retry=retry)
    names = [*archives, "trainset.txt", "testset_v.txt", "testset_t.txt"]
    assert [f.name for f in got] == names
    assert sorted(e["path"] for e in read_sources_json(tmp_path)) == sorted(names)


@pytest.mark.parametrize(
    ("corpus", "name", "size"),
    [("enwik8", "enwik8.zip", 36_445_475), ("ptb", "simple-examples.tgz", 34_869_662)],
)
def test_known_release_sizes_are_checked(
    site: Site, tmp_path: Path, retry: RetryPolicy, corpus: str, name: str, size: int
) -> None:
    site.add(name, b"PK\x03\x04 a truncated archive")
    with pytest.raises(IntegrityError, match=f"{name}: size mismatch: expected {size}, got 24"):
        download(corpus, tmp_path, mirror=site.url, progress=False, retry=retry)
    assert not (tmp_path / name).exists()


def test_wikipedia_release_through_a_mirror(site: Site, tmp_path: Path, retry: RetryPolicy) -> None:
    name = "dewiki-20261101-pages-articles.xml.bz2"
    links = '<a href="20261101/">20261101/</a>'
    site.add("dewiki/", links.encode())
    site.add(f"dewiki/20261101/{name}", b"dump")
    digest = hashlib.sha1(b"dump").hexdigest()
    site.add("dewiki/20261101/dewiki-20261101-sha1sums.txt", f"{digest}  {name}\n".encode())
    got = download("wikipedia", tmp_path, lang="de", mirror=site.url, progress=False, retry=retry)
    assert [f.name for f in got] == [name, "dewiki-20261101-sha1sums.txt"]


# --- a server that trickles, and a password over http:// -----------------------------------------


def test_a_stalled_transfer_gives_up_and_keeps_the_part_file(
    site: Site, tmp_path: Path, sleeps: list[float]
) -> None:
    """A byte at a time is never a read timeout: the stall rule (bytes per interval) ends each
    attempt, a stall never counts as progress, and what came stays for the next run."""
    body = make_targz(7, 4_000)
    site.add("slow.tar.gz", body, trickle=(100, 0.05))
    policy = RetryPolicy(
        attempts=2,
        connect_timeout=2,
        read_timeout=5,
        stall_bytes=10_000,
        stall_seconds=0.3,
        sleep=sleeps.append,
    )
    with pytest.raises(DownloadError, match="stalled") as caught:
        download(
            spec(site.url, RemoteFile("slow.tar.gz", "slow.tar.gz")),
            tmp_path,
            progress=False,
            retry=policy,
        )
    assert "10000 bytes in 0.3 s" in str(caught.value) and ".part" in str(caught.value)
    part = tmp_path / "slow.tar.gz.part"
    assert 0 < part.stat().st_size < len(body)
    assert body.startswith(part.read_bytes())
    assert len(sleeps) == 1 and not (tmp_path / "slow.tar.gz").exists()

    site.files["/slow.tar.gz"].trickle = None
    got = download(
        spec(site.url, RemoteFile("slow.tar.gz", "slow.tar.gz")),
        tmp_path,
        progress=False,
        retry=policy,
    )
    assert (tmp_path / "slow.tar.gz").read_bytes() == body and got[0].sha256 == sha256(body)
    assert site.hits[-1].range == f"bytes={part_size(site)}-"


def part_size(site: Site) -> int:
    """The offset the last request resumed from."""
    last = site.hits[-1].range or "bytes=0-"
    return int(last.removeprefix("bytes=").split("-")[0])


def test_a_password_over_plain_http_is_warned_about(
    site: Site, tmp_path: Path, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    site.add("data/a.tar.gz", make_targz(3, 2_000), auth=(USER, PASSWORD))
    the_spec = spec(site.url, RemoteFile("data/a.tar.gz", "a.tar.gz", auth=True), auth=True)
    with caplog.at_level(logging.WARNING, logger="graves_data.download"):
        download(the_spec, tmp_path, user=USER, password=PASSWORD, progress=False, retry=retry)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "clear text over http://" in warnings[0]
    assert "a.tar.gz" in warnings[0] and PASSWORD not in warnings[0]


def test_no_warning_without_a_password(
    site: Site, tmp_path: Path, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    site.add("a.tar.gz", make_targz(3, 2_000))
    with caplog.at_level(logging.WARNING, logger="graves_data.download"):
        download(
            spec(site.url, RemoteFile("a.tar.gz", "a.tar.gz")),
            tmp_path,
            progress=False,
            retry=retry,
        )
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
