"""Where the dumps are published, for `graves-data download wikipedia`: dated dumps on the
Wikimedia dump site, and the checksum list each dump publishes.

<lang>wiki/<date>/<lang>wiki-<date>-pages-articles[-multistream].xml.bz2, the multistream
index with --multistream, and the dump's own sha1sums.txt (md5sums where it has no sha1),
which gives each file's checksum before the transfer starts. `--mirror` takes the folder of
a Wikimedia dump mirror that holds <lang>wiki/.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from graves_data.corpora.wikipedia.params import NAME
from graves_data.download.spec import (
    HEX_LENGTH,
    Algorithm,
    DownloadSpec,
    RemoteFile,
    ResolveContext,
    join_url,
    redact_url,
)
from graves_data.errors import DownloadError, DumpNotFound, UsageError

log = logging.getLogger(__name__)

WIKIMEDIA_DUMPS = "https://dumps.wikimedia.org/"

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
        if len(fields) == 2 and re.fullmatch(f"[0-9a-f]{{{HEX_LENGTH[algorithm]}}}", fields[0]):
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


DOWNLOADS = DownloadSpec(
    corpus=NAME,
    base_url=WIKIMEDIA_DUMPS,
    resolver=wikimedia_dump_files,
    homepage="https://dumps.wikimedia.org/",
    notes="checksums from the dump's published sha1sums (or md5sums) file",
)
