"""The fast stroke reader: every stroke file of a unit in one pass of array operations.

It takes a file only where it has the release's own form, byte for byte (the declaration of
`restproof.DECLARATION`, the tags of `TAGS`, numbers of `NUMBER_GRAMMAR`); anything else is
left to the tree reader (`readers.tree_stroke_xml`), which gives the same `Ink` or refuses the
file with a reason. What it takes is proven well formed by the array checks themselves, with
lxml parsing only the parts outside the stroke set (`restproof`: a batch's in one parse).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from graves_data.corpora.iam_ondb.params import MAX_TIME
from graves_data.corpora.iam_ondb.restproof import rests_are_well_formed
from graves_data.errors import UsageError
from graves_data.pipelines.compiled import optional_module
from graves_data.pipelines.strokes import FloatArray, Ink, IntArray

BoolArray = npt.NDArray[np.bool_]

Scanner = Literal["compiled", "numpy"]
SCANNER_VARIABLE = "GRAVES_DATA_STROKE_SCANNER"  # "numpy" reads with the numpy scanner


# the compiled scanner (`_strokescan.c`), where the install built it; else the numpy one reads
COMPILED = optional_module("graves_data.corpora.iam_ondb._strokescan")


def default_scanner() -> Scanner:
    """The scanner `SCANNER_VARIABLE` names, else the compiled one where it is built."""
    asked = os.environ.get(SCANNER_VARIABLE, "")
    if asked not in ("", "compiled", "numpy"):
        raise UsageError(f"{SCANNER_VARIABLE}={asked!r}: say 'compiled' or 'numpy'")
    if asked == "compiled" and COMPILED is None:
        raise UsageError(
            f"{SCANNER_VARIABLE}=compiled, but this install has no compiled stroke scanner "
            "(it is built by pip install where a C compiler is); unset it to read with numpy"
        )
    if asked == "numpy" or COMPILED is None:
        return "numpy"
    return "compiled"


# the release's form, byte for byte: what a file must look like for the fast reader to take it
PAD = 128  # zero bytes before and after the joined files: every look-around stays inside
# (a tag's values are searched for at most 100 bytes past its "<", which is before its file's
# "</StrokeSet>")
TAGS = {  # kind code: the bytes a tag of that kind starts with
    1: b'<Point x="',
    2: b'<Stroke colour="',
    3: b"</Stroke>",
    4: b"<StrokeSet>",
    5: b"</StrokeSet>",
    6: b"<Stroke>",
}
POINT, HEAD, CLOSE, OPEN_SET, CLOSE_SET, BARE_HEAD = 1, 2, 3, 4, 5, 6
PREFIXES = {"point": b"<Point", "set": b"<StrokeSet", "end-set": b"</StrokeSet"}
POINT_REST = np.uint64(int.from_bytes(TAGS[POINT][2:], "little"))  # a Point's tag after "<P"
# the literal bytes after each quoted value: of a Point, and of a Stroke head (by its closing
# quote's index)
POINT_GLUE = (b'" y="', b'" time="', b'"/>')
HEAD_GLUE = ((1, b'" start_time="'), (3, b'" end_time="'), (5, b'">'))
WHITE_BYTE = np.zeros(256, dtype=bool)  # XML's white space
WHITE_BYTE[list(b" \t\r\n")] = True
VALUE_BYTE = np.zeros(256, dtype=bool)  # a Stroke head's values: printable, no space, < or &
VALUE_BYTE[0x21:0x7F] = True
VALUE_BYTE[list(b'"<&')] = False
COORDINATE_DIGITS = 7  # the fast reader's integers: at most 7 digits (the tree reads any; a
# line holds none beyond MAX_COORDINATE = 2**23, of 7 digits)
TIME_DIGITS = 14  # times: read as one integer they are below 2**53 and 10**k is exact, so one
# correctly rounded division gives what float() gives
POW10_FLOAT = (10 ** np.arange(19, dtype=np.int64)).astype(np.float64)  # each exact


@dataclass(frozen=True)
class _Joined:
    """The files of a batch in one buffer, readable as bytes or as 8-byte words anywhere."""

    data: bytes
    array: npt.NDArray[np.uint8]
    words: npt.NDArray[np.uint64]
    bounds: IntArray  # file f is array[bounds[f]:bounds[f + 1]]

    @staticmethod
    def of(datas: Sequence[bytes]) -> _Joined:
        pad = b"\0" * PAD
        data = b"".join([pad, *datas, pad])  # one copy
        bounds = np.zeros(len(datas) + 1, dtype=np.int64)
        bounds[1:] = np.cumsum([len(d) for d in datas])
        words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
        return _Joined(data, np.frombuffer(data, dtype=np.uint8), words, bounds + PAD)

    def file_of(self, positions: IntArray) -> IntArray:
        """The file of each of the increasing `positions` (as `find` gives them), by counting
        them per file."""
        per_file = np.diff(np.searchsorted(positions, self.bounds))
        found: IntArray = np.repeat(np.arange(len(self.bounds) - 1), per_file)
        return found

    def find(self, byte: bytes) -> IntArray:
        """Every position of one byte value in the files."""
        found: IntArray = np.flatnonzero(self.array == byte[0])
        return found

    def find_rare(self, byte: bytes) -> IntArray:
        """`find`, for a byte the files seldom hold (a search, not a pass of array operations)."""
        found: list[int] = []
        at = self.data.find(byte)
        while at >= 0:
            found.append(at)
            at = self.data.find(byte, at + 1)
        return np.asarray(found, dtype=np.int64)

    def matches(self, at: IntArray, literal: bytes) -> BoolArray:
        """Whether the bytes at each position start with `literal` (at most 16 bytes)."""
        high = self.words[at + 8] if len(literal) > 8 else self.words[:0]
        return _starts_with(self.words[at], high, literal)

    def closing_quote(self, start: IntArray, width: int) -> IntArray:
        """The first quote among the bytes start+1 to start+width (a value of 1 to `width`
        bytes starting at `start` ends there), or 0 where there is none."""
        found = np.zeros(len(start), dtype=np.int64)
        for k in reversed(range(width // 8)):  # the first word with a quote wins
            at = start + 1 + 8 * k
            lane = _first_lane(_lanes_equal(self.words[at], QUOTES))
            found = np.where(lane < 8, at + lane, found)
        return found

    def window(self, stop: IntArray) -> npt.NDArray[np.uint8]:
        """The 16 bytes before each stop, one row each."""
        rows = np.column_stack([self.words[stop - 16], self.words[stop - 8]])
        return rows.view(np.uint8).reshape(len(stop), 16)


def _starts_with(
    low: npt.NDArray[np.uint64], high: npt.NDArray[np.uint64], literal: bytes
) -> BoolArray:
    """Whether the 16 bytes in words (low, high) start with `literal`."""
    ok = np.ones(len(low), dtype=bool)
    for words, chunk in ((low, literal[:8]), (high, literal[8:16])):
        if chunk:
            mask = np.uint64((1 << (8 * len(chunk))) - 1)
            ok &= (words & mask) == np.uint64(int.from_bytes(chunk, "little"))
    return ok


def fast_stroke_batch(datas: Sequence[bytes], scanner: Scanner | None = None) -> list[Ink | None]:
    """The Ink of each file in the release's regular form, or None to say: use the tree reader.

    The compiled scanner (`_strokescan.c`, one pass over each file) or the numpy one (all files
    joined and read by passes of array operations) checks the same form and reads the same
    values; `scanner` picks one (by default `default_scanner()`). Sound because of what is
    checked, which proves the file well-formed (a subset of XML) and its points those the tree
    reader reads:
    - the file holds no `<!` (comment, CDATA, DOCTYPE), no `<?` but an XML declaration at its
      start naming an ASCII-compatible encoding, and no `&`: so every `<` starts a tag and
      attribute values are literal;
    - between its only `<StrokeSet>` and only `</StrokeSet>` there is nothing but white space
      and tags of exactly the release's form, nested as strokes of points: `<Stroke colour="v"
      start_time="v" end_time="v">` (or `<Stroke>`), `<Point x="N" y="N" time="T"/>` and
      `</Stroke>`, with N = -?[0-9]{1,7}, T = `NUMBER` of at most 14 digits within `MAX_TIME`,
      v printable ASCII without space, `<` or `&`; there is no `<Point` outside it;
    - the rest of the file, with the StrokeSet's content taken out, is parsed by lxml (the safe
      parser) and is a well-formed document whose root is the un-namespaced
      WhiteboardCaptureSession holding that StrokeSet as a child.
    Well-formed elements and white space inside an element keep a well-formed document so, and
    un-namespaced: the tree reader reads exactly these points (the tests compare both readers
    on every input they make).
    """
    if (scanner or default_scanner()) == "compiled":
        return _compiled_batch(datas)
    out: list[Ink | None] = []
    for group in _passes(datas):
        out += _fast_pass(group)
    return out


# the fewest bytes a Point and a stroke (its head and its end) take: room for every one a
# file can hold
SHORTEST_POINT = len(TAGS[POINT] + b'0" y="0" time="0"/>')
SHORTEST_STROKE = len(TAGS[BARE_HEAD] + TAGS[CLOSE])
VALID, OPEN_AT, CLOSE_AT, POINTS, STROKES = range(5)  # a file's record from the scanner


def _compiled_batch(datas: Sequence[bytes]) -> list[Ink | None]:
    """`fast_stroke_batch` by the compiled scanner: each file's checks and values in one pass
    over its bytes, then lxml's proof of the files' rests (as for the numpy scanner)."""
    if COMPILED is None:
        raise UsageError("the compiled stroke scanner is not built in this install")
    size = sum(len(d) for d in datas)
    x = np.empty(size // SHORTEST_POINT + 1, dtype=np.int64)
    y, t = np.empty_like(x), np.empty(len(x), dtype=np.float64)
    ends = np.empty(size // SHORTEST_STROKE + 1, dtype=np.int64)
    records = np.zeros((len(datas), 5), dtype=np.int64)
    COMPILED.scan(datas, MAX_TIME, x, y, t, ends, records)
    point_at = np.cumsum(records[:, POINTS]) - records[:, POINTS]
    stroke_at = np.cumsum(records[:, STROKES]) - records[:, STROKES]
    files = np.flatnonzero(records[:, VALID]).tolist()
    spans = [(int(records[f, OPEN_AT]), int(records[f, CLOSE_AT])) for f in files]
    proven = rests_are_well_formed([datas[f] for f in files], spans)
    out: list[Ink | None] = [None] * len(datas)
    for f, ok in zip(files, proven, strict=True):
        if ok:
            a, b = int(point_at[f]), int(point_at[f] + records[f, POINTS])
            h = int(stroke_at[f])
            out[f] = Ink.built(
                x[a:b], y[a:b], t[a:b] if b > a else None, ends[h : h + records[f, STROKES]]
            )
    return out


PASS_BYTES = 1 << 21  # the files read in one pass: about 2 MB (36,000 Points), whose
# temporaries stay in the core's cache (a unit's 16 MB in one pass took twice as long)


def _passes(datas: Sequence[bytes]) -> list[Sequence[bytes]]:
    """Consecutive groups of the files, each of at most PASS_BYTES bytes, or one file."""
    groups: list[Sequence[bytes]] = []
    start, size = 0, 0
    for i, data in enumerate(datas):
        if size and size + len(data) > PASS_BYTES:
            groups.append(datas[start:i])
            start, size = i, 0
        size += len(data)
    if start < len(datas):
        groups.append(datas[start:])
    return groups


def _fast_pass(datas: Sequence[bytes]) -> list[Ink | None]:
    """`fast_stroke_batch` of some files, in one pass."""
    out: list[Ink | None] = [None] * len(datas)
    scan = _Scan.of(_Joined.of(datas))
    files = np.flatnonzero(scan.valid).tolist()
    proven = rests_are_well_formed(
        [datas[f] for f in files], [scan.strokeset_span(f) for f in files]
    )
    scan.valid[[f for f, ok in zip(files, proven, strict=True) if not ok]] = False
    return scan.inks(out)


def fast_stroke_xml(data: bytes, scanner: Scanner | None = None) -> Ink | None:
    """`fast_stroke_batch` of one file."""
    return fast_stroke_batch([data], scanner)[0]


# allowed[previous kind, kind] inside a StrokeSet: strokes of points, nothing else
STROKE_PART = np.zeros(7, dtype=bool)  # the tags a StrokeSet holds (by kind: a lookup, not isin)
STROKE_PART[[POINT, HEAD, BARE_HEAD, CLOSE]] = True
STROKE_HEAD = np.zeros(7, dtype=bool)
STROKE_HEAD[[HEAD, BARE_HEAD]] = True
NESTING = np.zeros((7, 7), dtype=bool)
for _before, _after in [
    *((head, after) for head in (HEAD, BARE_HEAD) for after in (POINT, CLOSE)),
    (POINT, POINT),
    (POINT, CLOSE),
    *((before, head) for before in (OPEN_SET, CLOSE) for head in (HEAD, BARE_HEAD)),
    (OPEN_SET, CLOSE_SET),
    (CLOSE, CLOSE_SET),
]:
    NESTING[_before, _after] = True


@dataclass
class _Scan:
    """The tags of all files of a batch, located and checked with array operations."""

    joined: _Joined
    lt: IntArray  # position of every "<"
    kind: npt.NDArray[np.int8]  # its kind (TAGS), 0 for any other tag
    file_of: IntArray  # the file of each "<"
    valid: BoolArray  # per file: still in the release's form
    open_tag: IntArray  # per file: which "<" is its <StrokeSet>
    close_tag: IntArray  # per file: which "<" is its </StrokeSet>
    points: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # body Points
    values: tuple[IntArray, IntArray, FloatArray] = field(  # their x, y and time
        default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    )
    inside: BoolArray = field(default_factory=lambda: np.zeros(0, bool))  # `in_body`, first

    @staticmethod
    def of(joined: _Joined) -> _Scan:
        n = len(joined.bounds) - 1
        lt = joined.find(b"<")
        file_of = joined.file_of(lt)
        second = joined.array[lt + 1]
        # a Point's tag: "<", then "P", then the word "oint x=\"" (most tags); the others, and
        # the prefixes of tags that must be whole, are read from the two words at their "<"
        kind = np.zeros(len(lt), dtype=np.int8)
        kind[(second == ord("P")) & (joined.words[lt + 2] == POINT_REST)] = POINT
        other = np.flatnonzero(kind != POINT)
        low, high = joined.words[lt[other]], joined.words[lt[other] + 8]
        for code, tag in TAGS.items():
            if code != POINT:
                kind[other[_starts_with(low, high, tag)]] = code
        valid = np.ones(n, dtype=bool)

        def count(mask: BoolArray, among: IntArray | None = None) -> IntArray:
            files = file_of[mask] if among is None else file_of[among[mask]]
            return np.bincount(files, minlength=n)

        markup = (second == ord("!")) | ((second == ord("?")) & (lt != joined.bounds[file_of]))
        valid &= count(markup) == 0
        valid[joined.file_of(joined.find_rare(b"&"))] = False
        valid &= count(kind == OPEN_SET) == 1
        valid &= count(_starts_with(low, high, PREFIXES["set"]), other) == 1
        valid &= count(kind == CLOSE_SET) == 1
        valid &= count(_starts_with(low, high, PREFIXES["end-set"]), other) == 1
        valid &= count(_starts_with(low, high, PREFIXES["point"]), other) == 0  # all whole
        open_tag = np.full(n, -1, dtype=np.int64)
        close_tag = np.full(n, -1, dtype=np.int64)
        open_tag[file_of[kind == OPEN_SET]] = np.flatnonzero(kind == OPEN_SET)
        close_tag[file_of[kind == CLOSE_SET]] = np.flatnonzero(kind == CLOSE_SET)
        valid &= open_tag < close_tag
        scan = _Scan(joined, lt, kind, file_of, valid, open_tag, close_tag)
        scan.check_nesting()
        scan.check_bytes()
        return scan

    def strokeset_span(self, f: int) -> tuple[int, int]:
        """Where file f's <StrokeSet> and </StrokeSet> start, relative to the file."""
        start = int(self.joined.bounds[f])
        return int(self.lt[self.open_tag[f]]) - start, int(self.lt[self.close_tag[f]]) - start

    def invalidate(self, tags: IntArray, bad: BoolArray) -> None:
        self.valid[self.file_of[tags[bad]]] = False

    def in_body(self) -> BoolArray:
        """For each "<" of a still-valid file, whether it is inside its StrokeSet."""
        index = np.arange(len(self.lt))
        first, last = self.open_tag[self.file_of], self.close_tag[self.file_of]
        inside: BoolArray = (index > first) & (index < last) & self.valid[self.file_of]
        return inside

    def check_nesting(self) -> None:
        """Inside each StrokeSet: only strokes of points, the points of the StrokeSet only."""
        inside = self.inside = self.in_body()
        tags = np.arange(len(self.lt))
        self.invalidate(tags, inside & ~STROKE_PART[self.kind])
        self.invalidate(tags, (self.kind == POINT) & ~inside)
        closing = tags == self.close_tag[self.file_of]
        checked = np.flatnonzero((inside | closing) & self.valid[self.file_of])
        self.invalidate(checked, ~NESTING[self.kind[checked - 1], self.kind[checked]])

    def check_bytes(self) -> None:
        """Every tag in the StrokeSets of the exact form, and nothing but white space between.

        The tags' bytes are checked where each starts, each value's closing quote searched for
        in the few words after its opening one; the bytes between one tag's end and the next
        "<" (and after `<StrokeSet>`) must all be white space: every byte of a StrokeSet's
        content is in one tag or in one such gap.
        """
        body = np.flatnonzero(self.inside & self.valid[self.file_of])  # `in_body` now
        at, kinds = self.lt[body], self.kind[body]
        ends = at + len(TAGS[CLOSE])  # one past each tag's last byte
        ends[kinds == BARE_HEAD] = at[kinds == BARE_HEAD] + len(TAGS[BARE_HEAD])
        mine = kinds == POINT
        self.points = body[mine]
        self.values, end, ok = _point_values(self.joined, at[mine])
        self.invalidate(self.points, ~ok)
        ends[mine] = end
        mine = kinds == HEAD
        tags, start = body[mine], at[mine]
        q = [start + len(TAGS[HEAD]) - 1]  # its first quote, checked with the tag's start
        ok = np.ones(len(start), dtype=bool)
        for j, literal in HEAD_GLUE:
            value = q[-1] + 1
            ok &= self.joined.array[value] != ord('"')  # no value is empty
            close = self.joined.closing_quote(value, 16)
            ok &= (close > 0) & self.joined.matches(close, literal)
            q.append(close)
            if j < 5:
                q.append(close + len(literal) - 1)
        self.invalidate(tags, ~ok)
        ends[mine] = q[5] + len(HEAD_GLUE[-1][1])
        for j in (1, 3, 5):  # each value: at most 16 bytes, all VALUE_BYTE
            length = q[j] - q[j - 1] - 1
            inside = np.arange(16)[None, :] >= 16 - length[:, None]
            bytes_ok = VALUE_BYTE[self.joined.window(np.maximum(q[j], 16))] | ~inside
            self.invalidate(tags, ~(bytes_ok.all(axis=1) & (length <= 16)))
        files = np.flatnonzero(self.valid)
        if not len(files):
            return
        live = self.valid[self.file_of[body]]
        gap_start = np.concatenate(
            [self.lt[self.open_tag[files]] + len(TAGS[OPEN_SET]), ends[live]]
        )
        gap_stop = self.lt[np.concatenate([self.open_tag[files] + 1, body[live] + 1])]
        gap_file = np.concatenate([files, self.file_of[body[live]]])
        self._check_gaps(gap_start, gap_stop, gap_file)

    def _check_gaps(self, start: IntArray, stop: IntArray, file_of: IntArray) -> None:
        """Files with a gap start:stop that is not all white space (or ends before it starts)
        are no longer valid. A gap of up to 8 bytes is the word before its stop, checked
        lane by lane (SWAR); the few longer ones are checked byte by byte."""
        length = stop - start
        self.valid[file_of[length < 0]] = False
        short = (length >= 0) & (length <= 8)
        words = self.joined.words[stop[short] - 8]
        not_white = ~_first_lanes(8 - length[short])  # the last `length` bytes of the word
        for pattern in WHITE_PATTERNS:
            not_white &= ~_lanes_equal(words, pattern)
        self.valid[file_of[short][(not_white & HIGH_BITS) != 0]] = False
        long = length > 8
        if not long.any():
            return
        start, length, file_of = start[long], length[long], file_of[long]
        before = np.cumsum(length) - length
        index = np.arange(int(length.sum())) + np.repeat(start - before, length)
        bad = ~WHITE_BYTE[self.joined.array[index]]
        if bad.any():
            self.valid[np.repeat(file_of, length)[bad]] = False

    def inks(self, out: list[Ink | None]) -> list[Ink | None]:
        """The points of every valid file (None stays for the others)."""
        points, (x, y, t) = self.points, self.values
        heads = np.flatnonzero(STROKE_HEAD[self.kind] & self.valid[self.file_of])
        keep = self.valid[self.file_of[points]]
        if not keep.all():
            points, x, y, t = points[keep], x[keep], y[keep], t[keep]
        is_head = np.zeros(len(self.lt), dtype=np.int64)
        is_head[heads] = 1
        stroke_of = (np.cumsum(is_head) - 1)[points]  # the last head before each point
        stroke_ends = np.cumsum(np.bincount(stroke_of, minlength=len(heads)))
        files = np.flatnonzero(self.valid)
        point_file, head_file = self.file_of[points], self.file_of[heads]
        point_lo = np.searchsorted(point_file, files)
        point_hi = np.searchsorted(point_file, files, side="right")
        head_lo = np.searchsorted(head_file, files)
        head_hi = np.searchsorted(head_file, files, side="right")
        spans = zip(files.tolist(), point_lo, point_hi, head_lo, head_hi, strict=True)
        for f, a, b, h0, h1 in spans:
            ends = stroke_ends[h0:h1] - a
            out[f] = Ink.built(x[a:b], y[a:b], t[a:b] if b > a else None, ends)
        return out


U64 = npt.NDArray[np.uint64]
ZEROS = np.uint64(0x3030303030303030)  # eight "0"
LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
TEN_UP = np.uint64(0x7676767676767676)  # a byte + 0x76 reaches 0x80 from 10 on
HIGH_BITS = np.uint64(0x8080808080808080)
ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
QUOTES = np.uint64(0x2222222222222222)  # eight '"'
DOTS = np.uint64(0x2E2E2E2E2E2E2E2E)  # eight "."
WHITE_PATTERNS = tuple(np.uint64(int.from_bytes(bytes([b]) * 8, "little")) for b in b" \n\t\r")


def _lanes_equal(words: U64, pattern: np.uint64) -> U64:
    """The high bit of each byte of `words` that equals the byte of `pattern` (all eight the
    same), exactly: no carry crosses a byte."""
    diff = words ^ pattern
    nonzero = ((diff & LOW7) + LOW7) | diff
    marks: U64 = ~nonzero & HIGH_BITS
    return marks


def _first_lane(marks: U64) -> IntArray:
    """The index of each word's first marked byte (8 where none is): its trailing zeros / 8."""
    below = ~marks & (marks - np.uint64(1))
    lane: IntArray = (np.bitwise_count(below) >> np.uint8(3)).astype(np.int64)
    return lane


def _first_lanes(count: IntArray) -> U64:
    """A mask of each word's first `count` bytes (0 to 8)."""
    mask: U64 = FIRST_LANES[np.clip(count, 0, 8)]
    return mask


FIRST_LANES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
# of a 16-byte window (two words), by byte index i (0 to 16): in word w, the bytes before i
BEFORE = tuple(FIRST_LANES[np.clip(np.arange(17) - 8 * w, 0, 8)] for w in (0, 1))


def _point_values(
    joined: _Joined, start: IntArray
) -> tuple[tuple[IntArray, IntArray, FloatArray], IntArray, BoolArray]:
    """((x, y, time), one past the tag's end, in the exact form) of the Points whose "<" is at
    `start`: `<Point x="N" y="N" time="T"/>`, each value read from the words it starts in."""
    (x_glue, y_glue, t_glue), ok = POINT_GLUE, np.ones(len(start), dtype=bool)
    x, close, x_ok = _integer_at(joined, start + len(TAGS[POINT]))
    ok &= x_ok & joined.matches(close, x_glue)
    y, close, y_ok = _integer_at(joined, close + len(x_glue))
    ok &= y_ok & joined.matches(close, y_glue)
    t, close, t_ok = _decimal_at(joined, close + len(y_glue))
    ok &= t_ok & joined.matches(close, t_glue)
    ok &= np.abs(t) <= MAX_TIME
    return (x, y, t), close + len(t_glue), ok


# SWAR tables, by a value's byte count n (0 to 17; those that cannot match get 0s): the left
# shift that moves a word's first n bytes to its end (so the bytes after them fall out and
# zeros come in front: leading zeros); for a two-word value, the shift of each word, the
# second word's mask (nothing of it for n <= 8) and the first word's weight (10**(n - 8))
ALIGN = np.array([8 * (8 - n) if 1 <= n <= 8 else 0 for n in range(18)], np.uint64)
ALIGN_FIRST = np.array([8 * (8 - n) if 1 <= n < 8 else 0 for n in range(18)], np.uint64)
ALIGN_SECOND = np.array([8 * (16 - n) if 8 < n <= 16 else 0 for n in range(18)], np.uint64)
KEEP_SECOND = np.array([ALL if 8 < n <= 16 else 0 for n in range(18)], np.uint64)
WEIGHT_FIRST = np.array([10 ** (n - 8) if 8 < n <= 16 else 1 for n in range(18)], np.uint64)
NO_SIGN = np.array([ALL, ALL ^ np.uint64(0xFF)], np.uint64)  # by sign: the first byte cleared
BYTE, SEVEN_BYTES = np.uint64(8), np.uint64(56)
MINUS = np.uint64(ord("-"))
LOW_BYTE = np.uint64(0xFF)


def _quoted_length(joined: _Joined, value: IntArray, first: U64, second: U64 | None) -> IntArray:
    """Each value's bytes before its closing quote, the first quote among its one or two
    words (`first`, `second`) loaded at `value`; where they hold none, the value fits only if
    the byte after them is a quote: their width then, else one more."""
    length = _first_lane(_lanes_equal(first, QUOTES))
    width = 8
    if second is not None:
        length = np.where(length < 8, length, 8 + _first_lane(_lanes_equal(second, QUOTES)))
        width = 16
    full = np.flatnonzero(length == width)
    if len(full):
        length[full] = width + (joined.array[value[full] + width] != ord('"'))
    return length


def _all_digits(words: U64) -> BoolArray:
    """Whether every byte of each word (each xor "0") is a digit value 0-9."""
    ok: BoolArray = ((((words & LOW7) + TEN_UP) | words) & HIGH_BITS) == 0
    return ok


def _integer_at(joined: _Joined, value: IntArray) -> tuple[IntArray, IntArray, BoolArray]:
    """(the integer, its closing quote, whether it matches -?[0-9]{1,7}) of each value at
    `value`, read from the word it starts in (SWAR): the sign's byte cleared, the word shifted
    left so the value's bytes end it (the quote and what follows fall out), every byte then a
    digit value, summed up by multiplications."""
    word = joined.words[value]
    length = _quoted_length(joined, value, word, None)
    negative = (word & LOW_BYTE) == MINUS
    digits = length - negative
    ok: BoolArray = (digits >= 1) & (digits <= COORDINATE_DIGITS)
    aligned = ((word ^ ZEROS) & NO_SIGN[negative.view(np.uint8)]) << ALIGN[length]
    ok &= _all_digits(aligned)
    number: IntArray = _eight_digits(aligned).view(np.int64)
    np.negative(number, out=number, where=negative)
    return number, value + length, ok


def _decimal_at(joined: _Joined, value: IntArray) -> tuple[FloatArray, IntArray, BoolArray]:
    """(what float() reads, its closing quote, whether it matches `NUMBER` with at most
    `TIME_DIGITS` digits) of each value at `value`, read from the two words it starts in.

    Its first dot (after the sign and a digit, before the last digit) is taken out by moving
    the bytes after it down one; a second dot stays and fails as no digit. The digits are then
    read as one integer as in `_integer_at`, a word at a time.
    Below 2**53 and divided by an exact 10**k in one correctly rounded division, that integer
    gives what float() gives."""
    first, second = joined.words[value], joined.words[value + 8]
    length = _quoted_length(joined, value, first, second)
    negative = (first & LOW_BYTE) == MINUS
    sign = negative.view(np.uint8)
    within = np.minimum(length, 16)
    dot = _first_lane(_lanes_equal(first, DOTS) & BEFORE[0][within])
    later = _first_lane(_lanes_equal(second, DOTS) & BEFORE[1][within])
    dot = np.where(dot < 8, dot, 8 + later)  # 16 for none
    dotted = dot < 16
    ok: BoolArray = ~dotted | ((dot > sign) & (dot < length - 1))
    kept = length - dotted  # the value's bytes but the dot
    ok &= (kept - sign >= 1) & (kept - sign <= TIME_DIGITS)
    first, second = first ^ ZEROS, second ^ ZEROS
    below = BEFORE[0][dot], BEFORE[1][dot]  # the bytes before the dot, in each word
    moved = (first >> BYTE) | (second << SEVEN_BYTES)
    first = ((first & below[0]) | (moved & ~below[0])) & NO_SIGN[sign]
    second = (second & below[1]) | ((second >> BYTE) & ~below[1])
    first <<= ALIGN_FIRST[kept]
    second = (second & KEEP_SECOND[kept]) << ALIGN_SECOND[kept]
    ok &= _all_digits(first) & _all_digits(second)
    mantissa = _eight_digits(first) * WEIGHT_FIRST[kept] + _eight_digits(second)
    places = np.where(dotted, length - 1 - dot, 0)
    number: FloatArray = mantissa.view(np.int64).astype(np.float64) / POW10_FLOAT[places]
    np.negative(number, out=number, where=negative)
    return number, value + length, ok


def _eight_digits(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The number written by the 8 digit values (0-9) in each word's bytes, first byte first:
    pairs, then quadruples, then all eight combined by multiplications (SWAR)."""
    words = ((words & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(10 * 2**8 + 1)) >> np.uint64(8)
    words = ((words & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(100 * 2**16 + 1)) >> np.uint64(16)
    words = ((words & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(10000 * 2**32 + 1)) >> np.uint64(
        32
    )
    return words & np.uint64(0xFFFFFFFF)
