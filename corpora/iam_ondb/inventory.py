"""The release on disk, as folders or archives: what files there are, with sizes and stamps."""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from graves_data.archives import HashingReader, Member, iter_tar, iter_zip
from graves_data.corpora.iam_ondb.params import (
    ARCHIVES,
    ASCII,
    HEAD_BYTES,
    LINE_FILE,
    LISTS,
    ORIGINAL,
    ORIGINAL_FILE,
    STROKES,
    TASK_ZIP,
    TRANSCRIPTION_FILE,
)
from graves_data.corpora.iam_ondb.readers import parse_split_list, parse_writer
from graves_data.errors import InputNotFound, NotACorpus
from graves_data.pipelines.runner import (
    Execution,
    Quarantined,
    SourceFile,
    beside,
)
from graves_data.storage import FileStat, Location, change_stamp, printable_name

log = logging.getLogger(__name__)

# =============================================================================================
# the release on disk: folders or archives


@dataclass(frozen=True)
class StrokeFile:
    line_id: str
    number: int
    path: str  # relative to the raw root
    size: int
    mtime: int


@dataclass
class Inventory:
    """What the raw folder holds, read before any unit runs."""

    strokes: dict[str, list[StrokeFile]] = field(default_factory=dict)
    transcriptions: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    writers: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] | None = None
    sources: list[SourceFile] = field(default_factory=list)
    quarantine: list[Quarantined] = field(default_factory=list)
    strokes_archive: Location | None = None

    def take_heads(self, heads: Inventory) -> None:
        """The writers, original files, quarantine entries and sources of `original_heads` or
        `archive_heads`, in the order the serial inventory has them."""
        self.writers.update(heads.writers)
        self.originals.update(heads.originals)
        self.quarantine.extend(heads.quarantine)
        self.sources.extend(heads.sources)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def find_component(raw: Location, name: str) -> tuple[str, Location] | None:
    """("folder", lineStrokes/) or ("archive", lineStrokes-all.tar.gz), or None if neither."""
    folder, archive = raw.join(name), raw.join(ARCHIVES[name])
    if folder.is_dir():
        check_inside(raw, folder)
        return "folder", folder
    if archive.exists():
        check_inside(raw, archive)
        check_regular(archive)
        return "archive", archive
    return None


def check_inside(raw: Location, location: Location) -> None:
    """An input at the top of --raw is read only if it lies inside --raw, links resolved:
    nothing outside the raw folder is ever read (--raw itself may be a link: the user named
    it). A component or split list elsewhere is one clear error, not a quarantine entry: the
    build cannot be what the user meant without it."""
    target = location.outside(raw)
    if target is not None:
        raise NotACorpus(
            f"{location.url}: a symbolic link to {printable_name(target)}, outside --raw; "
            "nothing outside the raw folder is read (copy it in, or give the folder that "
            "holds the release as --raw) [symlink]"
        )


def check_regular(location: Location) -> None:
    """A component archive is a regular file this process may read (a FIFO would block)."""
    if not location.is_local:
        return
    if not stat.S_ISREG(os.stat(location.path).st_mode):
        raise NotACorpus(
            f"{location.url}: not a regular file (a FIFO, socket or device) [not-a-file]"
        )
    if not os.access(location.path, os.R_OK):
        raise NotACorpus(f"{location.url}: cannot be read (permission denied) [unreadable]")


def read_top_file(raw: Location, location: Location) -> bytes | None:
    """The bytes of a file at the top of --raw (a split list, the task zip), None if absent;
    a clear error if it is a link out of --raw, not a regular file, or unreadable."""
    check_inside(raw, location)
    try:
        return location.read_regular()
    except OSError as exc:
        code = "unreadable" if isinstance(exc, PermissionError) else "not-a-file"
        raise NotACorpus(f"{location.url}: cannot be read: {exc.strerror} [{code}]") from None


def require_component(raw: Location, name: str) -> tuple[str, Location]:
    found = find_component(raw, name)
    if found is None:
        raise NotACorpus(
            f"{raw.url}: not an IAM-OnDB release: no {name}/ folder and no {ARCHIVES[name]}"
        )
    return found


def take_inventory(raw: Location, execution: Execution | None = None) -> Inventory:
    """The release's files. With a second local worker in `execution`, the original files'
    heads (the writers), from their folder or their archive, are read on a process of their own
    while this one walks the stroke files and reads the transcriptions: the same inventory, in
    about half the wall."""
    if not raw.exists():
        raise InputNotFound(f"{raw.url}: no such folder")
    if not raw.is_dir():
        raise NotACorpus(
            f"{raw.url}: --raw must be the folder holding the release (or its archives)"
        )
    inventory = Inventory()
    strokes = require_component(raw, STROKES)
    ascii_part = require_component(raw, ASCII)
    original = find_component(raw, ORIGINAL)
    if original is None:
        log.warning(
            "%s: no %s/ folder and no %s: the dataset will have no writer ids (writer_id "
            "is null in every row; --split writers counts each form as a writer of its own)",
            raw.url,
            ORIGINAL,
            ARCHIVES[ORIGINAL],
        )
    with _heads_beside(original, execution) as heads:
        _inventory_strokes(raw, strokes, inventory)
        for rel, data in _component_files(ascii_part, inventory):
            _add_transcription(rel, data, inventory)
        if heads is not None:
            inventory.take_heads(heads())
    inventory.lists = read_split_lists(raw, inventory)
    return inventory


@contextmanager
def _heads_beside(
    original: tuple[str, Location] | None, execution: Execution | None
) -> Iterator[Callable[[], Inventory] | None]:
    """The writers of the original files (`original_heads` of their folder, `archive_heads`
    of their archive), begun beside the caller where `execution` has a second local worker
    (else read here when asked for); None where the release has no original files."""
    if original is None:
        yield None
        return
    kind, location = original
    read = original_heads if kind == "folder" else archive_heads
    with beside(read, location, execution=execution or SERIAL) as heads:
        yield heads


SERIAL = Execution(workers=1, progress=False)


def _component_files(part: tuple[str, Location], inv: Inventory) -> Iterator[tuple[str, bytes]]:
    """(path relative to raw, bytes) of every file of a small component (ascii, original)."""
    kind, location = part
    if kind == "folder":
        for found in _folder_files(location, inv):
            rel = found.path
            data = location.join(rel).read_bytes()
            path = posixpath.join(location.name, rel)
            inv.sources.append(SourceFile(path, len(data), sha256_hex(data)))
            yield path, data
        return
    with location.open("rb") as handle:
        reader = HashingReader(handle)
        for member in iter_tar(reader, location.url):
            if member.data is None:
                _refused_member(location, member, inv)
                continue
            yield member.name, member.data
        reader.drain()
    inv.sources.append(SourceFile(location.name, reader.size, reader.hexdigest()))


def _folder_files(folder: Location, inv: Inventory) -> list[FileStat]:
    """The regular files of a component folder; links (never followed: one could lead out of
    the raw folder), special files, files that cannot be read and names that are not UTF-8
    are quarantined with what they are."""
    files, passed = folder.walk_stats(readable=True)
    for entry in passed:
        path = posixpath.join(folder.name, entry.path)
        inv.quarantine.append(Quarantined(path, entry.code, entry.reason))
    return files


def _refused_member(archive: Location, member: Member, inv: Inventory) -> None:
    if member.problem != "directory":
        inv.quarantine.append(
            Quarantined(f"{archive.name}:{member.name}", "archive-member", str(member.problem))
        )


def _inventory_strokes(raw: Location, part: tuple[str, Location], inv: Inventory) -> None:
    kind, location = part
    if kind == "folder":
        for found in _folder_files(location, inv):
            path = posixpath.join(location.name, found.path)
            _add_stroke_file(path, found.size, found.stamp, inv)
        return
    inv.strokes_archive = location
    stat = location.fs.info(location.path)
    mtime = change_stamp(stat)
    with location.open("rb") as handle:
        for member in iter_tar(handle, location.url, read_data=False):
            if member.data is None:
                _refused_member(location, member, inv)
                continue
            _add_stroke_file(member.name, 0, mtime, inv)


def _add_stroke_file(path: str, size: int, mtime: int, inv: Inventory) -> None:
    match = LINE_FILE.match(posixpath.basename(path))
    if match is None:
        inv.quarantine.append(
            Quarantined(path, "unknown-file", "not a line stroke file name (<form>-<NN>.xml)")
        )
        return
    form, number = match["form"], int(match["line"])
    line_id = posixpath.basename(path)[: -len(".xml")]
    inv.strokes.setdefault(form, []).append(StrokeFile(line_id, number, path, size, mtime))


def _add_transcription(path: str, data: bytes, inv: Inventory) -> None:
    match = TRANSCRIPTION_FILE.match(posixpath.basename(path))
    if match is None:
        inv.quarantine.append(
            Quarantined(path, "unknown-file", "not a transcription file name (<form>.txt)")
        )
        return
    inv.transcriptions[match["form"]] = (path, data)


def original_heads(folder: Location) -> Inventory:
    """Writers from the heads of the original XML files (General comes first in each): an
    inventory holding only `writers`, `originals` and what of the folder was quarantined.

    An original file holds the whole form's strokes too: the plan reads only its first
    kilobytes, and the workers read and hash the whole file, in parallel, for `sources`."""
    inv = Inventory()
    for found in _folder_files(folder, inv):
        rel = found.path
        path = posixpath.join(folder.name, rel)
        if ORIGINAL_FILE.match(posixpath.basename(path)) is None:
            continue
        with folder.join(rel).open("rb") as handle:
            head = handle.read(HEAD_BYTES)
            writer, why = parse_writer(head, path)
            if why is not None and why.startswith("unreadable") and len(head) == HEAD_BYTES:
                writer, why = parse_writer(head + handle.read(), path)  # cut too early: all of it
        form = _original_form(path)
        inv.writers[form] = (writer, why)
        inv.originals[form] = path
    return inv


def archive_heads(archive: Location) -> Inventory:
    """`original_heads` of the original-xml archive: the writers of its strokes*.xml members
    (each read whole, as the archive streams), the members it refused (quarantine) and the
    archive's own size and sha256 (`sources`)."""
    inv = Inventory()
    for rel, data in _component_files(("archive", archive), inv):
        _add_original(rel, data, inv)
    return inv


def _original_form(path: str) -> str:
    match = ORIGINAL_FILE.match(posixpath.basename(path))
    suffix = match["suffix"] if match else ""
    return posixpath.basename(posixpath.dirname(path)) + suffix


def _add_original(path: str, data: bytes, inv: Inventory) -> None:
    if ORIGINAL_FILE.match(posixpath.basename(path)) is None:
        return  # the original-xml release holds other files too; only strokes*.xml name writers
    inv.writers[_original_form(path)] = parse_writer(data, path)


def read_split_lists(raw: Location, inv: Inventory) -> dict[str, list[str]] | None:
    """The task-1 lists from .txt files beside the release, or from the task's zip."""
    found: dict[str, list[str]] = {}
    for name in LISTS:
        data = read_top_file(raw, raw.join(f"{name}.txt"))
        if data is not None:
            inv.sources.append(SourceFile(f"{name}.txt", len(data), sha256_hex(data)))
            found[name] = parse_split_list(data)
    task_zip = raw.join(TASK_ZIP)
    zipped = None if found else read_top_file(raw, task_zip)
    if zipped is not None:
        inv.sources.append(SourceFile(TASK_ZIP, len(zipped), sha256_hex(zipped)))
        for member in iter_zip(task_zip):
            stem = posixpath.basename(member.name).removesuffix(".txt")
            if member.data is not None and stem in LISTS:
                found[stem] = parse_split_list(member.data)
    if not found:
        return None
    missing = [name for name in LISTS if name not in found]
    if missing:
        raise NotACorpus(
            f"{raw.url}: split lists incomplete: no {', '.join(m + '.txt' for m in missing)}"
        )
    return found
