"""The whole download: every file of a corpus's `DownloadSpec` into the raw folder, checked.

- resumable: bytes go to `<name>.part`; a later run continues it with an HTTP Range request
  (and starts again from zero when the server ignores Range and answers 200);
- retried with exponential backoff on transient failures, and given up on a stalled transfer
  (`RetryPolicy`), the part file kept for the next run;
- checked and atomic: the `.part` is renamed to its final name only once its size and its
  published checksum (where the publisher gives one) match; a mismatch keeps nothing;
- idempotent: a file under its final name was checked before it got there and is recorded in
  `SOURCES.json`, so a second run makes no request for it;
- recorded: `SOURCES.json` in the raw folder lists path, URL (never with credentials), size and
  sha256 of every file, sorted by path, rewritten atomically as each file completes.

Passwords come from the caller (the CLI reads a file or `$GRAVES_DATA_IAM_PASSWORD`); they are
sent as HTTP basic auth and never logged, put in a URL, an error message or `SOURCES.json`;
sending one over plain `http://` is warned about. Proxies follow the standard variables
(HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as `requests` does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from graves_data import __version__
from graves_data.download.fetch import Meter, Target, already_there, fetch, progress_bars
from graves_data.download.parts import folder_lock
from graves_data.download.sources import read_sources_json, write_sources
from graves_data.download.spec import (
    DownloadSpec,
    FetchedFile,
    RemoteFile,
    ResolveContext,
    join_url,
    redact_url,
)
from graves_data.download.transport import Http, RetryPolicy
from graves_data.errors import DownloadError, RemoteNotFound, UsageError

log = logging.getLogger("graves_data.download")

PASSWORD_ENV = "GRAVES_DATA_IAM_PASSWORD"
USER_ENV = "GRAVES_DATA_IAM_USER"


def base_url(spec: DownloadSpec, mirror: str | None) -> str:
    if mirror is None:
        return spec.base_url
    parts = urlsplit(mirror)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--mirror {redact_url(mirror)!r} is not an http(s) URL")
    return mirror


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def warn_plain_http(base: str, files: Sequence[RemoteFile]) -> None:
    """Basic auth over http:// sends the password readable by anyone on the way: say so."""
    plain = [f.name for f in files if f.auth and urlsplit(join_url(base, f.url)).scheme == "http"]
    if plain:
        log.warning(
            "the password goes in clear text over http:// to %s (for %s): use an https:// "
            "--mirror where the server has one",
            urlsplit(base).hostname,
            ", ".join(plain),
        )


def download_spec(corpus: str) -> DownloadSpec:
    """The DownloadSpec of a corpus, by its CLI name, from the corpus registry."""
    from graves_data.corpora import get

    spec = get(corpus).downloads
    if spec is None:
        raise UsageError(f"{corpus}: the registry names nothing to download for it")
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
    http: Http,
    target: Target,
    sources: dict[str, dict[str, Any]],
    progress: Any,
) -> FetchedFile | None:
    """One file into the folder, checked and recorded; None for a missing optional file."""
    name = target.remote.name
    present = already_there(target, sources.get(name))
    fetched = present is None
    if present is None:
        target.final.parent.mkdir(parents=True, exist_ok=True)
        log.info("fetching %s from %s", name, redact_url(target.url))
        try:
            present = fetch(http, target, Meter(progress, name))
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
    base = base_url(spec, mirror)
    folder = _make_folder(to)
    owns_session = session is None
    http = Http(session or requests.Session(), retry or RetryPolicy(), user, password)
    http.session.headers.update(
        {"User-Agent": f"graves-data/{__version__}", "Accept-Encoding": "identity"}
    )
    try:
        with folder_lock(folder), progress_bars(progress) as bars:
            context = _context(http, spec, base, folder, (lang, date, multistream))
            files = spec.resolve(context)
            if password is not None:
                warn_plain_http(base, files)
            return _bring_all(http, base, folder, files, bars)
    finally:
        if owns_session:
            http.session.close()


def _context(
    http: Http,
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
    http: Http, base: str, folder: Path, files: Sequence[RemoteFile], bars: Any
) -> list[FetchedFile]:
    sources = {str(e["path"]): e for e in read_sources_json(folder)}
    results: list[FetchedFile] = []
    for remote in files:
        target = Target(remote, join_url(base, remote.url), folder / remote.name)
        result = _bring(http, target, sources, bars)
        if result is not None:
            results.append(result)
            write_sources(folder, sources)
    return results


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
