"""`SOURCES.json`: what `graves-data download` put in a raw folder, and where it came from.

One reader for every place that reads it (the download itself, and the build, which copies each
file's URL into the manifest, from a local folder or an object store alike), and it is strict:
a file that is not JSON, or an entry without its path, URL, size and sha256, is a clear error
naming the file, never an entry dropped in silence.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graves_data.errors import DiskFull, DownloadError, SourcesFileError
from graves_data.schema import strict_json
from graves_data.storage import Location, resolve

SOURCES_FILE = "SOURCES.json"


def read_sources(raw_folder: Location) -> list[dict[str, Any]]:
    """The entries of `raw_folder/SOURCES.json` ({path, url, size, sha256}, sorted by path), or
    an empty list when there is none (a raw folder made by hand or by `synth`)."""
    record = raw_folder.join(SOURCES_FILE)
    try:
        data = json.loads(record.read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourcesFileError(f"{record.url}: cannot be read as JSON ({exc})") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise SourcesFileError(f'{record.url}: expected an object with a "files" list')
    for entry in files:
        _check_entry(record, entry)
    return sorted(files, key=lambda e: str(e["path"]))


def read_sources_json(raw_folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """`read_sources` of a local folder, named by its path."""
    return read_sources(resolve(os.fspath(raw_folder)))


def _check_entry(record: Location, entry: Any) -> None:
    ok = (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("url"), str)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
        and re.fullmatch("[0-9a-f]{64}", entry["sha256"]) is not None
    )
    if not ok:
        raise SourcesFileError(
            f"{record.url}: malformed entry {entry!r} (need path, url, size, sha256)"
        )


def write_sources(folder: Path, entries: Mapping[str, dict[str, Any]]) -> None:
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
