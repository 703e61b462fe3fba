"""`graves-data download <corpus>`: fetch a corpus from its official home into a raw folder.

The package, by concern: `spec` (what a corpus publishes), `transport` (HTTP and retries),
`parts` (part files and folder locks), `fetch` (one file), `sources` (`SOURCES.json`) and
`run` (the whole download). Its errors are in `graves_data.errors`; the click command is in
`graves_data.cli`; the Wikipedia dump discovery is the Wikipedia corpus's own
(`graves_data.corpora.wikipedia.downloads`).

The names below are loaded on first use, so that a corpus module naming its `DownloadSpec`
does not import `requests`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from graves_data.download.spec import DownloadSpec as DownloadSpec
from graves_data.download.spec import FetchedFile as FetchedFile
from graves_data.download.spec import RemoteFile as RemoteFile
from graves_data.download.spec import ResolveContext as ResolveContext
from graves_data.download.spec import join_url as join_url
from graves_data.download.spec import redact_url as redact_url
from graves_data.errors import AuthenticationFailed as AuthenticationFailed
from graves_data.errors import DiskFull as DiskFull
from graves_data.errors import DownloadError as DownloadError
from graves_data.errors import DumpNotFound as DumpNotFound
from graves_data.errors import IntegrityError as IntegrityError
from graves_data.errors import RemoteNotFound as RemoteNotFound
from graves_data.errors import SiteUnreachable as SiteUnreachable
from graves_data.errors import SourcesFileError as SourcesFileError

if TYPE_CHECKING:
    from graves_data.download.run import PASSWORD_ENV as PASSWORD_ENV
    from graves_data.download.run import USER_ENV as USER_ENV
    from graves_data.download.run import download as download
    from graves_data.download.run import download_spec as download_spec
    from graves_data.download.run import read_password as read_password
    from graves_data.download.sources import SOURCES_FILE as SOURCES_FILE
    from graves_data.download.sources import read_sources_json as read_sources_json
    from graves_data.download.transport import RetryPolicy as RetryPolicy

_LAZY = {
    "PASSWORD_ENV": "graves_data.download.run",
    "USER_ENV": "graves_data.download.run",
    "download": "graves_data.download.run",
    "download_spec": "graves_data.download.run",
    "read_password": "graves_data.download.run",
    "SOURCES_FILE": "graves_data.download.sources",
    "read_sources_json": "graves_data.download.sources",
    "RetryPolicy": "graves_data.download.transport",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
