"""IAM On-Line Handwriting Database (IAM-OnDB), as Graves (2013) trains on it.

The release (Liwicki & Bunke, 2005): pen trajectories recorded on a whiteboard with an eBeam
system, one XML file per text line, 221 writers, 12,195 lines. `--raw` names either the folders
as the archives extract (`lineStrokes/`, `ascii/`, `original/` and the task-1 split lists), or a
folder holding the archives themselves (`lineStrokes-all.tar.gz`, `ascii-all.tar.gz`,
`original-xml-all.tar.gz`), which are read in place, member by member.

What the release holds, and how each part is read:
- stroke files `lineStrokes/a01/a01-000/a01-000u-01.xml`: ISO-8859-1, CRLF, `Point x y time`
  with absolute times in seconds (two decimals; `0.00` where a reading lost its time);
- transcriptions `ascii/a01/a01-000/a01-000u.txt`: an `OCR:` section, then `CSR:` with one
  line per stroke file, in order: line i of CSR is the text of stroke file i;
- original XML `original/a01/a01-000/strokesu.xml`: the writer, in `General/Form@writerID`.
  The form id comes from the file's path: the ids inside the file do not always agree;
- the split lists `trainset.txt`, `testset_v.txt`, `testset_t.txt`, `testset_f.txt`.

Known defects, each quarantined with its reason rather than guessed at: forms whose CSR has more
or fewer lines than there are stroke files (`a08-551z`: 9 files, 8 lines), placeholder
transcriptions (`z01-000z`: "Please Enter Transcription here"), forms in no split list, and
damaged stroke files (left out line by line).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from lxml import etree

from graves_data import __version__
from graves_data.archives import HashingReader, Member, iter_tar, iter_zip
from graves_data.corpus import CorpusSpec, param, params_dict
from graves_data.download import DownloadSpec, RemoteFile
from graves_data.errors import BadInput, InputNotFound, NotACorpus, UsageError
from graves_data.pipelines.handwriting import HandwritingRows, normalization
from graves_data.pipelines.runner import (
    BuildJob,
    Execution,
    Quarantined,
    SourceFile,
    Unit,
    UnitContext,
    UnitResult,
    check_no_overlap,
    run_build,
)
from graves_data.pipelines.strokes import CleanParams, CleanReport, Ink, clean
from graves_data.schema import HANDWRITING, canonical_json
from graves_data.shards import ShardWriter, shard_path
from graves_data.storage import Location, change_stamp, resolve
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from graves_data.vocab import Vocab, build_vocab, count_symbols

NAME = "iam-ondb"
STROKES, ASCII, ORIGINAL = "lineStrokes", "ascii", "original"
ARCHIVES = {
    STROKES: "lineStrokes-all.tar.gz",
    ASCII: "ascii-all.tar.gz",
    ORIGINAL: "original-xml-all.tar.gz",
}
LISTS = ("trainset", "testset_v", "testset_t", "testset_f")
TASK_ZIP = "largeWriterIndependentTextLineRecognitionTask.zip"
PLACEHOLDER = "please enter transcription here"
SplitScheme = Literal["paper", "official", "writers"]
SCHEMES: dict[str, dict[str, tuple[str, ...]]] = {
    "paper": {"train": ("trainset", "testset_t", "testset_f"), "valid": ("testset_v",)},
    "official": {name: (name,) for name in LISTS},
}
TRAIN_SPLIT = {"paper": "train", "official": "trainset", "writers": "train"}
# quarantine codes that report rather than reject: they never fail an --on-bad-input error build
REPORT_ONLY = frozenset({"not-in-split"})

LINE_FILE = re.compile(r"^(?P<form>[A-Za-z0-9]+-[0-9]+[A-Za-z]?)-(?P<line>[0-9]{2,3})\.xml$")
ORIGINAL_FILE = re.compile(r"^strokes(?P<suffix>[A-Za-z]?)\.xml$")
WRITER_CHUNK = 1024
HEAD_BYTES = 16384  # an original XML file's General element lies well within its first 16 KB
TRANSCRIPTION_FILE = re.compile(r"^(?P<form>[A-Za-z0-9]+-[0-9]+[A-Za-z]?)\.txt$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# the largest |coordinate| a line may hold: any step between two such points is at most 2**24,
# which float32 offsets hold exactly (so origin + cumsum(offsets) gives the points back)
MAX_COORDINATE = 2**23


@dataclass(frozen=True)
class IamParams:
    """Build parameters; all of them go into the manifest and each shard's metadata."""

    split: SplitScheme = param(
        "paper",
        "paper: train = trainset+testset_t+testset_f, valid = testset_v (Graves 2013); "
        "official: the four lists; writers: seeded writer-disjoint train/valid/test",
    )
    seed: int = param(0, "seed of the writers split")
    valid_fraction: float = param(0.1, "writers split: fraction of lines in valid")
    test_fraction: float = param(0.1, "writers split: fraction of lines in test")
    gap_factor: float = param(
        2.5, "a time step over this many sampling periods means lost readings"
    )
    max_fill: int = param(10, "most readings interpolated into one gap (a longer gap is a pause)")
    spike_threshold: float = param(
        600.0, "a step longer than this (board units) inside a stroke is an error"
    )
    spike_width: int = param(
        2, "runs of at most this many points cut off by over-long steps are dropped"
    )
    keep_time: bool = param(True, "write the dt column (seconds between points)")
    forms_per_shard: int = param(64, "forms per unit of work and per shard")
    row_group_rows: int = param(128, "rows per Parquet row group")

    def clean_params(self) -> CleanParams:
        return CleanParams(self.gap_factor, self.max_fill, self.spike_threshold, self.spike_width)

    def check(self) -> None:
        if self.forms_per_shard < 1 or self.row_group_rows < 1:
            raise UsageError("--forms-per-shard and --row-group-rows must be at least 1")
        if not (0 <= self.valid_fraction < 1 and 0 <= self.test_fraction < 1):
            raise UsageError("--valid-fraction and --test-fraction must be in [0, 1)")
        if self.valid_fraction + self.test_fraction >= 1:
            raise UsageError("--valid-fraction + --test-fraction must leave lines for training")
        if self.spike_threshold <= 0 or self.gap_factor <= 1 or self.max_fill < 0:
            raise UsageError("--spike-threshold > 0, --gap-factor > 1 and --max-fill >= 0 required")


# =============================================================================================
# readers: bytes in, records out (pure; the source path is only for messages)


def xml_parser() -> etree.XMLParser:
    """The only way graves-data parses XML: no entity expansion, no DTD, no network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def parse_xml(data: bytes, source: str) -> Any:
    if not data.strip():
        raise BadInput(source, "empty-file", "file is empty")
    if has_doctype(data):
        raise BadInput(source, "xml-dtd", "has a DOCTYPE; DTDs and entities are not read")
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise BadInput(source, "xml-syntax", f"not well-formed XML ({exc})") from None
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise BadInput(source, "xml-dtd", "has a DOCTYPE; DTDs and entities are not read")
    return root


def has_doctype(data: bytes) -> bool:
    """A DOCTYPE in a single-byte or UTF-8 document, found before libxml2 sees it: a file
    with one is refused without being parsed, so no entity of it is ever expanded, no file it
    names read and no URL fetched. (A UTF-16 document's is caught after a parse that has entity
    expansion, DTD loading and network access off.)"""
    return b"<!DOCTYPE" in data


def parse_stroke_xml(data: bytes, source: str) -> Ink:
    """A line's pen points from a lineStrokes file, as read: no cleaning here.

    Files in the release's own regular form take a fast path (a check-only lxml parse, then
    the attribute values read straight from the bytes); anything else, and every file the fast
    path has a doubt about, is read from a full lxml tree. Both give the same Ink.
    """
    fast = fast_stroke_xml(data)
    return fast if fast is not None else tree_stroke_xml(data, source)


def tree_stroke_xml(data: bytes, source: str) -> Ink:
    """The general reader: an lxml tree, any attribute order, quoting or entities."""
    root = parse_xml(data, source)
    if root.tag != "WhiteboardCaptureSession":
        raise BadInput(
            source, "wrong-root", f"root element is <{root.tag}>, not <WhiteboardCaptureSession>"
        )
    strokeset = root.find("StrokeSet")
    if strokeset is None:
        raise BadInput(source, "no-strokeset", "no <StrokeSet> element")
    counts = [int(s.xpath("count(Point)")) for s in strokeset.iterchildren("Stroke")]
    total = sum(counts)
    xs = strokeset.xpath("Stroke/Point/@x", smart_strings=False)
    ys = strokeset.xpath("Stroke/Point/@y", smart_strings=False)
    if len(xs) != total or len(ys) != total:
        raise BadInput(
            source, "point-attribute", f"{_first_point_without(strokeset)} has no x or y"
        )
    x, y = _coordinates(xs, source, "x"), _coordinates(ys, source, "y")
    ends = np.cumsum(np.asarray(counts, dtype=np.int64)) if counts else np.zeros(0, np.int64)
    return Ink(x, y, _times(strokeset, total, source), ends)


class _CheckOnly:
    """An lxml parser target that builds nothing: the parse only proves well-formedness."""

    def close(self) -> None:
        return None


def check_only_parser() -> etree.XMLParser:
    """The safe parser of `xml_parser`, building no tree (libxml2 still checks everything)."""
    target: Any = _CheckOnly()
    return etree.XMLParser(target=target, resolve_entities=False, no_network=True, load_dtd=False)


ROOT_START = re.compile(rb"\s*<WhiteboardCaptureSession[\s>]")
STROKE_HEAD = re.compile(rb"<Stroke(?:\s[^>]*)?>")
NUMBER_BYTES = b"0123456789.-"
NUMBERS_ONLY = bytes(c if c in NUMBER_BYTES else 32 for c in range(256))  # all else -> space
POINT_SKELETON = b'<Pointx=""y=""time=""/>'  # a release Point, numbers and spaces removed
POINT_TOKENS = (b'<Point x="', b'" y="', b'" time="')  # each exactly once per release Point
SKELETON = re.compile(rb'(?:<S>(?:<Pointx=""y=""time=""/>)*</Stroke>)*')


def fast_stroke_xml(data: bytes) -> Ink | None:
    """The Ink of a file in the release's regular form, or None to say: use the tree reader.

    Sound because of what it checks first: the document is well-formed (lxml parses it, with
    no tree), and holds no comment, CDATA, DOCTYPE, processing instruction or entity reference,
    so every `<` in it starts or ends an element and attribute values are literal. Then the
    StrokeSet must hold nothing but strokes of Point elements of the release's exact form.
    """
    begin = _body_start(data)
    if begin < 0 or data.find(b"<!", begin) >= 0 or data.find(b"<?", begin) >= 0 or b"&" in data:
        return None
    if not ROOT_START.match(data, begin):
        return None
    parser = check_only_parser()
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None
    if len(parser.error_log):  # what libxml2 only logs, e.g. an undeclared namespace prefix
        return None  # (the tree reader refuses it): not the release's form
    start, end = data.find(b"<StrokeSet>", begin), data.find(b"</StrokeSet>", begin)
    if start < 0 or end < start or data.find(b"<StrokeSet", start + 1) >= 0:
        return None
    if data.find(b"<Point", begin, start) >= 0 or data.find(b"<Point", end) >= 0:
        return None
    return _fast_strokes(data[start + len(b"<StrokeSet>") : end])


def _body_start(data: bytes) -> int:
    """Where the document's elements begin (after the XML declaration); -1 if it is unclosed."""
    if not data.startswith(b"<?xml"):
        return 0
    close = data.find(b"?>")
    return -1 if close < 0 else close + 2


def _fast_strokes(strokeset: bytes) -> Ink | None:
    """Points of a StrokeSet body whose every stroke holds only `<Point x y time/>` elements.

    With the stroke tags marked and the numbers and white space taken out, the markup must be
    exactly strokes of Point skeletons (`SKELETON`); the numbers, read in order, must then be
    three per point and the coordinates integers. Any other shape (a self-closing stroke, an
    attribute more or less, another element) returns None and the tree reader decides.
    """
    marked = STROKE_HEAD.sub(b"<S>", strokeset)
    skeleton = marked.translate(None, NUMBER_BYTES + b" \t\r\n")
    if SKELETON.fullmatch(skeleton) is None:
        return None
    stroke_lengths = [len(part) for part in skeleton.split(b"</Stroke>")[:-1]]
    counts = [(length - 3) // len(POINT_SKELETON) for length in stroke_lengths]
    if any(marked.count(token) != sum(counts) for token in POINT_TOKENS):
        return None  # a name split by white space (<Poin tx=) or holding numbers (<Point1)
    return _fast_numbers(marked, counts)


def _fast_numbers(bodies: bytes, counts: list[int]) -> Ink | None:
    try:
        numbers = np.array(bodies.translate(NUMBERS_ONLY).split(), dtype=np.float64)
    except ValueError:
        return None
    if len(numbers) != 3 * sum(counts):
        return None
    numbers = numbers.reshape(-1, 3)
    xy = numbers[:, :2]
    if len(xy) and (np.abs(xy).max() > 2**31 - 1 or np.any(xy != np.rint(xy))):
        return None
    ends = np.cumsum(np.asarray(counts, dtype=np.int64)) if counts else np.zeros(0, np.int64)
    whole = xy.astype(np.int64)
    return Ink(whole[:, 0], whole[:, 1], numbers[:, 2].copy(), ends)


def _first_point_without(strokeset: Any) -> str:
    for k, stroke in enumerate(strokeset.iterchildren("Stroke")):
        for i, point in enumerate(stroke.iterchildren("Point")):
            if point.get("x") is None or point.get("y") is None:
                return f"point {i} of stroke {k} (line {point.sourceline})"
    return "a point"


def _coordinates(values: list[str], source: str, axis: str) -> npt.NDArray[np.int64]:
    try:
        numbers = np.asarray(values, dtype=np.float64) if values else np.zeros(0)
    except ValueError:
        bad = next(v for v in values if not _is_number(v))
        raise BadInput(source, "non-numeric", f"{axis}={bad!r} is not a number") from None
    if not np.all(np.isfinite(numbers)):
        raise BadInput(source, "non-finite", f"an {axis} coordinate is NaN or infinite")
    if np.any(numbers != np.rint(numbers)):
        raise BadInput(
            source, "non-integer", f"an {axis} coordinate is not an integer board position"
        )
    if np.any(np.abs(numbers) > 2**31 - 1):
        raise BadInput(source, "out-of-range", f"an {axis} coordinate is outside the 32-bit range")
    return numbers.astype(np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _times(strokeset: Any, total: int, source: str) -> npt.NDArray[np.float64] | None:
    """Point times in seconds; a missing or unreadable time becomes NaN (repaired later)."""
    ts = strokeset.xpath("Stroke/Point/@time", smart_strings=False)
    if not ts:
        return None
    if len(ts) == total:
        try:
            return np.asarray(ts, dtype=np.float64)
        except ValueError:
            pass
    values = [
        p.get("time") for s in strokeset.iterchildren("Stroke") for p in s.iterchildren("Point")
    ]
    return np.asarray([float(v) if v is not None and _is_number(v) else np.nan for v in values])


def parse_transcription(data: bytes, source: str) -> list[str]:
    """The CSR lines of an ascii/ file: one per stroke file, in order, spaces trimmed."""
    if _is_utf8_beyond_ascii(data):
        raise BadInput(
            source,
            "not-latin-1",
            "holds UTF-8 multi-byte characters, not ISO-8859-1 text (read as the release's "
            "ISO-8859-1 they would turn into other letters)",
        )
    text = data.decode("iso-8859-1")
    if CONTROL.search(text):
        raise BadInput(
            source, "control-characters", "holds control characters (not ISO-8859-1 text)"
        )
    lines = text.splitlines()
    marker = next((i for i, line in enumerate(lines) if line.strip().startswith("CSR:")), None)
    if marker is None:
        raise BadInput(source, "no-csr", "no CSR: section")
    body = [line.strip() for line in lines[marker + 1 :]]
    while body and not body[0]:
        body.pop(0)
    while body and not body[-1]:
        body.pop()
    if not body:
        raise BadInput(source, "empty-csr", "the CSR: section is empty")
    if "" in body:
        raise BadInput(
            source,
            "csr-blank-line",
            f"blank line inside the CSR: section (line {body.index('') + 1})",
        )
    return body


def _is_utf8_beyond_ascii(data: bytes) -> bool:
    """True for bytes above 0x7f that decode as UTF-8: ISO-8859-1 prose practically never does
    (a letter like Ã would have to be followed by a symbol or C1 control each time)."""
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_writer(data: bytes, source: str) -> tuple[str | None, str | None]:
    """(writer id, None) from an original XML file's head, or (None, why not)."""
    if has_doctype(data):
        return None, "has a DOCTYPE; DTDs and entities are not read"
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        # fed a little at a time: the answer is in the first elements, the file is large
        for start in range(0, len(data), WRITER_CHUNK):
            parser.feed(data[start : start + WRITER_CHUNK])
            found = _writer_event(parser)
            if found is not None:
                return found
        parser.close()
        return _writer_event(parser) or (None, "no General/Form element")
    except etree.XMLSyntaxError as exc:
        return None, f"unreadable original XML ({exc})"


def _writer_event(parser: Any) -> tuple[str | None, str | None] | None:
    for _, element in parser.read_events():
        if element.getroottree().docinfo.doctype:
            return None, "has a DOCTYPE; DTDs and entities are not read"
        if element.tag == "Form":
            writer = (element.get("writerID") or "").strip()
            return (writer, None) if writer else (None, "Form has no writerID")
        if element.tag in ("Transcription", "WhiteboardDescription", "StrokeSet"):
            return None, "no General/Form element"
    return None


def parse_split_list(data: bytes) -> list[str]:
    """Form ids of a task list: one per line, with the release's leading spaces."""
    return [line.strip() for line in data.decode("iso-8859-1").splitlines() if line.strip()]


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


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def find_component(raw: Location, name: str) -> tuple[str, Location] | None:
    """("folder", lineStrokes/) or ("archive", lineStrokes-all.tar.gz), or None if neither."""
    folder, archive = raw.join(name), raw.join(ARCHIVES[name])
    if folder.is_dir():
        return "folder", folder
    if archive.exists():
        return "archive", archive
    return None


def require_component(raw: Location, name: str) -> tuple[str, Location]:
    found = find_component(raw, name)
    if found is None:
        raise NotACorpus(
            f"{raw.url}: not an IAM-OnDB release: no {name}/ folder and no {ARCHIVES[name]}"
        )
    return found


def take_inventory(raw: Location) -> Inventory:
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
    _inventory_strokes(raw, strokes, inventory)
    for rel, data in _component_files(raw, ascii_part, inventory):
        _add_transcription(rel, data, inventory)
    if original is not None and original[0] == "folder":
        _original_heads(original[1], inventory)
    elif original is not None:
        for rel, data in _component_files(raw, original, inventory):
            _add_original(rel, data, inventory)
    inventory.lists = read_split_lists(raw, inventory)
    return inventory


def _component_files(
    raw: Location, part: tuple[str, Location], inv: Inventory
) -> Iterator[tuple[str, bytes]]:
    """(path relative to raw, bytes) of every file of a small component (ascii, original)."""
    kind, location = part
    if kind == "folder":
        for rel in _folder_files(location, inv):
            data = location.join(rel).read_bytes()
            path = posixpath.join(location.name, rel)
            inv.sources.append(SourceFile(path, len(data), _sha(data)))
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


def _folder_files(folder: Location, inv: Inventory) -> list[str]:
    """The regular files of a component folder; links (never followed: one could lead out of
    the raw folder) and special files are quarantined with what they are."""
    files, passed = folder.walk_entries()
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
        for rel in _folder_files(location, inv):
            info = location.fs.info(location.join(rel).path)
            mtime = change_stamp(info)
            _add_stroke_file(posixpath.join(location.name, rel), int(info["size"]), mtime, inv)
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


def _original_heads(folder: Location, inv: Inventory) -> None:
    """Writers from the heads of the original XML files (General comes first in each).

    An original file holds the whole form's strokes too: the plan reads only its first
    kilobytes, and the workers read and hash the whole file, in parallel, for `sources`."""
    for rel in _folder_files(folder, inv):
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
        location = raw.join(f"{name}.txt")
        if location.exists():
            data = location.read_bytes()
            inv.sources.append(SourceFile(f"{name}.txt", len(data), _sha(data)))
            found[name] = parse_split_list(data)
    task_zip = raw.join(TASK_ZIP)
    if not found and task_zip.exists():
        inv.sources.append(SourceFile(TASK_ZIP, task_zip.size(), _sha(task_zip.read_bytes())))
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


# =============================================================================================
# planning: which forms go where


@dataclass(frozen=True)
class FormTask:
    """One form as a unit carries it to a worker."""

    form_id: str
    writer_id: str | None
    texts: tuple[str, ...]
    files: tuple[StrokeFile, ...]
    original: str | None = None  # its original XML file, hashed by the worker (folder builds)


@dataclass(frozen=True)
class Payload:
    forms: tuple[FormTask, ...]
    data: tuple[bytes | None, ...] | None = None  # member bytes in files order (archives)


def check_form(form: str, files: list[StrokeFile], inv: Inventory) -> tuple[str, ...]:
    """The form's aligned transcription lines, or BadInput saying why it cannot be aligned."""
    if form not in inv.transcriptions:
        raise BadInput(
            f"{ASCII}/.../{form}.txt",
            "missing-transcription",
            f"form {form} has no transcription file",
        )
    path, data = inv.transcriptions[form]
    lines = parse_transcription(data, path)
    if len(lines) == 1 and lines[0].lower() == PLACEHOLDER:
        raise BadInput(
            path, "placeholder-transcription", f"placeholder text {lines[0]!r}, not a transcription"
        )
    numbers = sorted(f.number for f in files)
    if numbers != list(range(1, len(files) + 1)):
        raise BadInput(
            path, "line-numbering", f"stroke files of {form} are not numbered 01..{len(files):02d}"
        )
    if len(lines) != len(files):
        raise BadInput(
            path,
            "transcription-mismatch",
            f"{len(files)} stroke files but {len(lines)} transcription lines: "
            "cannot align by line number",
        )
    return tuple(lines)


def assign_splits(
    forms: Mapping[str, tuple[str | None, int]],
    inv_lists: Mapping[str, list[str]] | None,
    params: IamParams,
) -> tuple[dict[str, str], list[Quarantined]]:
    """Split of each form; forms left out (in no list, in two lists) as quarantine entries."""
    if params.split == "writers":
        return writer_split(forms, params.seed, params.valid_fraction, params.test_fraction), []
    if inv_lists is None:
        raise UsageError("no split lists (trainset.txt, ...) in --raw; use --split writers")
    scheme = SCHEMES[params.split]
    list_of: dict[str, str] = {}
    left_out: list[Quarantined] = []
    for name in LISTS:
        for form in inv_lists[name]:
            if form in list_of and list_of[form] != name:
                left_out.append(
                    Quarantined(form, "in-two-lists", f"listed in both {list_of[form]} and {name}")
                )
            list_of.setdefault(form, name)
    doubly = {q.source for q in left_out}
    split_of_list = {lst: split for split, lists in scheme.items() for lst in lists}
    assigned: dict[str, str] = {}
    for form in forms:
        if form in doubly:
            continue
        if form not in list_of:
            left_out.append(
                Quarantined(
                    form, "not-in-split", "form is in no split list; not guessed into a split"
                )
            )
            continue
        assigned[form] = split_of_list[list_of[form]]
    return assigned, left_out


def writer_split(
    forms: Mapping[str, tuple[str | None, int]],
    seed: int,
    valid_fraction: float,
    test_fraction: float,
) -> dict[str, str]:
    """Seeded writer-disjoint split: whole writers go to test, then valid, until each fraction
    of lines is reached. A form with no known writer counts as a writer of its own."""
    groups: dict[str, list[str]] = {}
    for form, (writer, _) in sorted(forms.items()):
        groups.setdefault(f"w:{writer}" if writer else f"f:{form}", []).append(form)
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    total = sum(n for _, n in forms.values())
    targets = [("test", test_fraction * total), ("valid", valid_fraction * total)]
    assigned: dict[str, str] = {}
    taken = {"test": 0, "valid": 0}
    for index in order:
        key = keys[int(index)]
        lines = sum(forms[f][1] for f in groups[key])
        split = next(
            (name for name, target in targets if taken[name] + lines / 2 <= target), "train"
        )
        if split != "train":
            taken[split] += lines
        for form in groups[key]:
            assigned[form] = split
    return assigned


def split_names(params: IamParams) -> tuple[str, ...]:
    if params.split == "writers":
        return ("train", "valid", "test")
    return tuple(SCHEMES[params.split])


@dataclass
class Plan:
    forms_by_split: dict[str, list[FormTask]]
    quarantine: list[Quarantined]
    vocab: Vocab
    writers_by_split: dict[str, int]
    report: dict[str, Any]


def plan_forms(inv: Inventory, params: IamParams, on_bad_input: str) -> Plan:
    quarantine = list(inv.quarantine)
    aligned: dict[str, FormTask] = {}
    for form in sorted(inv.strokes):
        files = sorted(inv.strokes[form], key=lambda f: f.number)
        try:
            texts = check_form(form, files, inv)
        except BadInput as error:
            if on_bad_input == "error":
                raise
            quarantine.append(Quarantined(error.source, error.code, error.reason))
            continue
        writer = inv.writers.get(form, (None, "no original XML file"))[0]
        aligned[form] = FormTask(form, writer, texts, tuple(files), inv.originals.get(form))
    for form in sorted(set(inv.transcriptions) - set(inv.strokes)):
        path = inv.transcriptions[form][0]
        quarantine.append(
            Quarantined(path, "no-stroke-files", f"transcription of {form} but no stroke files")
        )
    counts = {f: (t.writer_id, len(t.files)) for f, t in aligned.items()}
    assigned, left_out = assign_splits(counts, inv.lists, params)
    quarantine.extend(left_out)
    by_split: dict[str, list[FormTask]] = {name: [] for name in split_names(params)}
    for form, split in sorted(assigned.items()):
        by_split[split].append(aligned[form])
    train = by_split[TRAIN_SPLIT[params.split]]
    vocab = build_vocab(count_symbols(t for form in train for t in form.texts))
    writers = {s: len({f.writer_id for f in forms if f.writer_id}) for s, forms in by_split.items()}
    return Plan(by_split, quarantine, vocab, writers, _report(inv, aligned))


def _report(inv: Inventory, aligned: Mapping[str, FormTask]) -> dict[str, Any]:
    unknown = {
        f: inv.writers.get(f, (None, "no original XML file"))[1]
        for f, t in aligned.items()
        if not t.writer_id
    }
    listed_absent: dict[str, int] = {}
    if inv.lists is not None:
        present = set(inv.strokes)
        listed_absent = {
            name: sum(1 for f in forms if f not in present) for name, forms in inv.lists.items()
        }
    return {
        "writer_unknown": [{"form": f, "reason": r} for f, r in sorted(unknown.items())],
        "listed_but_absent": listed_absent,
    }


# =============================================================================================
# units: a group of forms, one shard


def make_units(plan: Plan, params: IamParams) -> list[Unit]:
    units = []
    for split, forms in plan.forms_by_split.items():
        groups = [
            forms[i : i + params.forms_per_shard]
            for i in range(0, len(forms), params.forms_per_shard)
        ]
        for index, group in enumerate(groups):
            inputs = tuple((f.path, f.size, f.mtime) for form in group for f in form.files)
            units.append(
                Unit(
                    key=f"{split}-{index:05d}",
                    split=split,
                    shard=shard_path(split, index, len(groups)),
                    inputs=inputs,
                    payload=Payload(tuple(group)),
                    stamp=forms_stamp(group),
                )
            )
    return units


def forms_stamp(forms: Sequence[FormTask]) -> str:
    """Digest of what a unit's rows take from outside its stroke files: each form's aligned
    transcription lines and writer. An edited transcription redoes its unit on a re-run."""
    spec = [[form.form_id, form.writer_id, list(form.texts)] for form in forms]
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def with_archive_bytes(
    units: Sequence[Unit], archive: Location, sources: list[SourceFile]
) -> Iterator[Unit]:
    """Stream the stroke archive once and yield each unit as soon as all its members arrived.

    Memory holds the members of units not yet complete: with the release's sorted archive
    that is about one unit per split. The archive's sha256 is appended to `sources` at the end.
    """
    wanted: dict[str, tuple[int, int]] = {}
    for u, unit in enumerate(units):
        files = [f for form in unit.payload.forms for f in form.files]
        for i, f in enumerate(files):
            wanted[f.path] = (u, i)
    buffers: dict[int, dict[int, bytes]] = {}
    sizes = [sum(len(form.files) for form in unit.payload.forms) for unit in units]
    emitted: set[int] = set()
    with archive.open("rb") as handle:
        reader = HashingReader(handle)
        for member in iter_tar(reader, archive.url):
            slot = wanted.get(member.name)
            if slot is None or member.data is None:
                continue
            u, i = slot
            buffers.setdefault(u, {})[i] = member.data
            if len(buffers[u]) == sizes[u]:
                emitted.add(u)
                yield _attach(units[u], buffers.pop(u))
        reader.drain()
    sources.append(SourceFile(archive.name, reader.size, reader.hexdigest()))
    for u, unit in enumerate(units):
        if u not in emitted:  # a member vanished between listing and reading
            yield _attach(unit, buffers.pop(u, {}))


def _attach(unit: Unit, found: Mapping[int, bytes | None]) -> Unit:
    count = sum(len(form.files) for form in unit.payload.forms)
    data = tuple(found.get(i) for i in range(count))
    return replace(unit, payload=Payload(unit.payload.forms, data))


def process_unit(unit: Unit, ctx: UnitContext) -> UnitResult:
    """Read, clean and encode one group of forms; write its shard."""
    params = IamParams(**ctx.params)
    payload: Payload = unit.payload
    raw = resolve(ctx.raw_url)
    rows = HandwritingRows(keep_time=params.keep_time)
    quarantine: list[Quarantined] = []
    sources: list[SourceFile] = []
    lines = [
        (form, f, t) for form in payload.forms for f, t in zip(form.files, form.texts, strict=True)
    ]
    for form in payload.forms:
        if form.original is not None:
            original = raw.join(form.original).read_bytes()
            sources.append(SourceFile(form.original, len(original), _sha(original)))
    for index, (form, stroke_file, text) in enumerate(lines):
        if payload.data is not None:
            data = payload.data[index]
        else:
            data = raw.join(stroke_file.path).read_bytes()
            sources.append(SourceFile(stroke_file.path, len(data), _sha(data)))
        try:
            ink, report = read_line(data, stroke_file.path, params)
        except BadInput as error:
            if ctx.on_bad_input == "error":
                raise
            quarantine.append(Quarantined(error.source, error.code, error.reason))
            continue
        rows.add(
            stroke_file.line_id,
            form.form_id,
            form.writer_id,
            text,
            ctx.vocab.encode(text),
            ink,
            report,
        )
    out = resolve(ctx.out_url)
    with ShardWriter(out, unit.shard, ctx.schema, ctx.metadata, params.row_group_rows) as writer:
        writer.write(rows.table())
    assert writer.info is not None  # set by a clean exit of the with block
    return UnitResult(
        key=unit.key,
        split=unit.split,
        shard=writer.info,
        quarantine=tuple(quarantine),
        sources=tuple(sources),
        totals=rows.totals(),
        symbol_counts=dict(count_symbols(rows.texts)),
    )


def read_line(data: bytes | None, source: str, params: IamParams) -> tuple[Ink, CleanReport]:
    """One stroke file, parsed and cleaned; BadInput if nothing usable is left."""
    if data is None:
        raise BadInput(source, "missing-member", "stroke file listed but missing from the archive")
    ink = parse_stroke_xml(data, source)
    if ink.n_points and max(np.abs(ink.x).max(), np.abs(ink.y).max()) > MAX_COORDINATE:
        raise BadInput(
            source,
            "out-of-range",
            f"a coordinate beyond +-{MAX_COORDINATE} board units: a step to it would not fit "
            "the float32 offsets exactly (a real board is under 100,000)",
        )
    ink, report = clean(ink, params.clean_params())
    if ink.n_points == 0:
        raise BadInput(source, "no-points", "no pen points left (empty, or all removed as errors)")
    return ink, report


# =============================================================================================
# the whole build


def training_moments(results: Sequence[UnitResult], split: str) -> dict[str, int]:
    keys = ("_n", "_sx", "_sy", "_sxx", "_syy")
    return {k: sum(int(r.totals.get(k, 0)) for r in results if r.split == split) for k in keys}


def build(
    raw: str | Location,
    out: str | Location,
    params: IamParams | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: Literal["error", "skip"] = "skip",
    overwrite: bool = False,
) -> Mapping[str, Any]:
    """Build an IAM-OnDB dataset from the release at `raw` into `out`; return the manifest."""
    params = params or IamParams()
    params.check()
    raw_loc = raw if isinstance(raw, Location) else resolve(raw)
    out_loc = out if isinstance(out, Location) else resolve(out)
    check_no_overlap(raw_loc, out_loc)
    inventory = take_inventory(raw_loc)
    plan = plan_forms(inventory, params, on_bad_input)
    units = make_units(plan, params)
    sources = list(inventory.sources)
    unit_stream: Sequence[Unit] | Iterator[Unit] = units
    if inventory.strokes_archive is not None:
        unit_stream = with_archive_bytes(units, inventory.strokes_archive, sources)
    train_split = TRAIN_SPLIT[params.split]

    def finalize(results: Sequence[UnitResult]) -> dict[str, Any]:
        return {
            "normalization": normalization(training_moments(results, train_split), train_split),
            "writers": plan.writers_by_split,
            "report": plan.report,
        }

    job = BuildJob(
        corpus=NAME,
        params=params_dict(params),
        raw=raw_loc,
        out=out_loc,
        schema=HANDWRITING,
        vocab=plan.vocab,
        units=unit_stream,
        unit_count=len(units),
        splits=split_names(params),
        process=process_unit,
        sources=sources,
        quarantine=plan.quarantine,
        finalize=finalize,
        card=dataset_card,
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    return run_build(job, execution)


def dataset_card(manifest: Mapping[str, Any]) -> str:
    """README.md of the dataset: the Hub's YAML header, then provenance and cleaning."""
    splits = manifest["splits"]
    yaml_files = "\n".join(f"  - split: {name}\n    path: data/{name}-*" for name in splits)
    params = manifest["params"]
    writers = manifest.get("writers", {})
    rows = "\n".join(
        f"| {name} | {s['rows']} | {s.get('points', 0)} | {writers.get(name, 0)} |"
        for name, s in splits.items()
    )
    quarantined = len(manifest["quarantine"])
    norm = manifest.get("normalization", {})
    return f"""---
pretty_name: IAM On-Line Handwriting Database (graves-data build)
license: other
task_categories:
- text-generation
tags:
- handwriting
- online-handwriting
- graves-2013
configs:
- config_name: default
  data_files:
{yaml_files}
---

# IAM-OnDB, cleaned and sharded by graves-data {__version__}

Online handwriting: one row per text line, pen offsets `(dx, dy, end_of_stroke)` in raw board
units (`offsets`), the first point's position (`origin`), the transcription (`text`, `text_ids`
in `vocab.json`), writer and form ids, and what cleaning changed. Schema version
{manifest["schema_version"]}; `manifest.json` lists every input with its sha256, every shard with
its sha256, and the {quarantined} inputs left out with the reason for each.

| split | lines | points | writers |
|---|---|---|---|
{rows}

Split scheme: `{params["split"]}`.

## Cleaning (Graves 2013, section 4)
Timestamps that are zero or out of order re-estimated; lost readings (time gap over
{params["gap_factor"]} sampling periods) filled by linear interpolation, at most
{params["max_fill"]} per gap; steps longer than {params["spike_threshold"]} board units inside a
stroke removed (runs of at most {params["spike_width"]} points dropped, strokes split otherwise);
duplicate readings and empty strokes dropped. Normalisation over `{norm.get("split", "")}`:
mean {norm.get("mean")}, std {norm.get("std")}.

## Licence
The IAM On-Line Handwriting Database is free for non-commercial research use, after
registration with its authors (FKI, University of Bern / HEIA-FR). This derived dataset carries
the same terms: do not redistribute it. Cite: M. Liwicki and H. Bunke, "IAM-OnDB - an On-Line
English Sentence Database Acquired from Handwritten Text on a Whiteboard", ICDAR 2005; and
A. Graves, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850, 2013.
"""


SPEC = CorpusSpec(
    name=NAME,
    summary="IAM On-Line Handwriting Database: pen trajectories of text lines",
    params=IamParams,
    build=build,
    synth_params=IamSynthParams,
    synth=synth_iam_ondb,
)


# --- where the release is published: `graves-data download iam-ondb` ---------------------------

# The archives are behind the database's registration login (HTTP basic auth); their URLs are
# the ones the release has used since it moved from www.fki.inf.unibe.ch to HEIA-FR. No sizes or
# checksums are published, so none are checked: SOURCES.json records the sha256 of what came.
# The task IAM-OnDB-t1 lists sat beside data/ on the former host (DBs/iamOnDB/trainset.txt, ...)
# and are assumed to have moved with the archives; they are optional, since `--split writers`
# builds without them, and a missing one is reported, not fatal. `--mirror` replaces the base.
DOWNLOADS = DownloadSpec(
    corpus=NAME,
    base_url="https://fki.tic.heia-fr.ch/DBs/iamOnDB/",
    files=(
        *(RemoteFile(f"data/{archive}", archive, auth=True) for archive in ARCHIVES.values()),
        *(RemoteFile(f"{name}.txt", f"{name}.txt", auth=True, optional=True) for name in LISTS),
    ),
    auth=True,
    homepage="https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database",
    notes="no published sizes or checksums; split lists' URL inferred from the former host",
)
