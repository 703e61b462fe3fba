"""The dump on disk: which file (and multistream index) `--raw` names, and what its head says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graves_data.corpora.wikipedia.readers import parse_head, read_head
from graves_data.errors import InputNotFound, NotACorpus, UsageError
from graves_data.storage import Location, resolve


@dataclass(frozen=True)
class Dump:
    """A dump file and what its head says: encoding, export version, namespaces."""

    url: str
    rel: str
    size: int
    bz2: bool
    codec: str
    version: str
    namespaces: Mapping[str, int]
    index_url: str | None = None
    index_rel: str | None = None

    @property
    def code_unit(self) -> int:
        return 2 if self.codec.startswith("utf-16") else 1


def find_dump(raw: Location, index: str | None) -> tuple[Location, Location, Location | None]:
    """(raw root, dump file, index file or None) from a dump file or a folder holding one."""
    if not raw.exists():
        raise InputNotFound(f"{raw.url}: no such file or folder")
    index_location = resolve(index) if index else None
    if index_location is not None and not index_location.exists():
        raise InputNotFound(f"{index_location.url}: no such index file")
    if not raw.is_dir():
        return raw.parent(), raw, index_location
    files = list(raw.walk_files())
    dumps = [f for f in files if f.endswith((".xml", ".xml.bz2")) and "/" not in f]
    if len(dumps) != 1:
        what = "no" if not dumps else f"{len(dumps)}"
        raise NotACorpus(f"{raw.url}: {what} .xml or .xml.bz2 dumps in this folder; name one")
    if index_location is None:
        indexes = [f for f in files if f.endswith("-index.txt.bz2") and "/" not in f]
        if len(indexes) == 1 and dumps[0].endswith("multistream.xml.bz2"):
            index_location = raw.join(indexes[0])
    return raw, raw.join(dumps[0]), index_location


def _rel(location: Location, root: Location) -> str:
    prefix = root.path.rstrip("/") + "/"
    return location.path[len(prefix) :] if location.path.startswith(prefix) else location.url


def open_dump(raw: Location, index: str | None) -> Dump:
    root, location, index_location = find_dump(raw, index)
    is_bz2 = location.path.endswith(".bz2")
    head = read_head(location, is_bz2)
    if not head:
        raise NotACorpus(f"{location.url}: empty file")
    codec, version, namespaces = parse_head(head, location.url)
    dump = Dump(
        url=location.url,
        rel=_rel(location, root),
        size=location.size(),
        bz2=is_bz2,
        codec=codec,
        version=version,
        namespaces=namespaces,
        index_url=index_location.url if index_location else None,
        index_rel=_rel(index_location, root) if index_location else None,
    )
    if dump.index_url is not None and not dump.bz2:
        raise UsageError("--index goes with a multistream .xml.bz2 dump, not a plain .xml file")
    return dump
