"""What a corpus publishes: the files of a download, and what is known of each.

Each corpus names its `DownloadSpec` in its registry entry (`CorpusSpec.downloads`): base URL,
files, and what is known of each (size, published checksum, whether it needs a login).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

Algorithm = Literal["sha256", "sha1", "md5"]
HEX_LENGTH: dict[str, int] = {"sha256": 64, "sha1": 40, "md5": 32}


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
        hex_digits = HEX_LENGTH[self.algorithm] if self.algorithm else 0
        checksum = self.checksum
        if checksum is not None and not re.fullmatch(f"[0-9a-f]{{{hex_digits}}}", checksum):
            raise ValueError(f"{self.name}: {checksum!r} is not a lowercase hex {self.algorithm}")
        if not is_safe_name(self.name):
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


def is_safe_name(name: str) -> bool:
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


def host(url: str) -> str:
    return urlsplit(url).hostname or url
