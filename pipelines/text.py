"""Pure text transforms: symbols, vocabularies, encoding, fixed-length chunks, PTB and wikitext.

Everything here takes and returns strings, bytes and arrays; the corpus modules own reading
and writing. The pieces, in the order a text build uses them:

- counting: `byte_counts` (256 bins) and `char_counts` (code points), vectorised with numpy,
  because a corpus is counted before its vocabulary exists (a pass over all of it);
- vocabularies: `text_vocab` builds one from the training split's counts, adding `<unk>` only
  where something would otherwise be unencodable (so enwik8 keeps the paper's 205 bytes);
- encoding: `encode_bytes` and `encode_chars` map a whole buffer through a lookup table;
- chunking: every split is one symbol stream cut into rows of `seq_len` symbols at multiples of
  `seq_len` from the split's start. `plan_chunk_ranges` divides the rows among units, so a unit
  knows the global position of its first row and any worker count gives the same rows;
  `chunk_table` turns ids into the shard's rows (the last row zero-padded, `length` real);
- PTB: the character stream of a word-level file, and of a `ptb.char.*` file, and back;
- Wikipedia: `wikitext_to_plain` removes markup with mwparserfromhell.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from graves_data.vocab import UNK, Vocab, VocabKind, build_vocab

IdArray = npt.NDArray[np.uint16] | npt.NDArray[np.uint8]
CountArray = npt.NDArray[np.int64]

# ---------------------------------------------------------------------------------------------
# counting


def as_byte_array(data: bytes | bytearray | memoryview) -> npt.NDArray[np.uint8]:
    """A zero-copy uint8 view of a buffer."""
    return np.frombuffer(data, dtype=np.uint8)


def byte_counts(data: bytes | bytearray | memoryview) -> CountArray:
    """How often each byte value 0..255 occurs."""
    return np.bincount(as_byte_array(data), minlength=256).astype(np.int64)


def byte_count_map(counts: Sequence[int] | CountArray) -> dict[str, int]:
    """Byte histogram -> {symbol: count} in the byte vocabulary's spelling (chr(value))."""
    return {chr(value): int(n) for value, n in enumerate(counts) if n}


def code_points(text: str) -> npt.NDArray[np.uint32]:
    """The code points of `text` as an array (one element per character)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def char_counts(text: str) -> dict[str, int]:
    """How often each character occurs: a bincount over code points, not a Python loop."""
    points = code_points(text)
    if not len(points):
        return {}
    counts = np.bincount(points)
    present = np.flatnonzero(counts)
    return {chr(int(v)): int(counts[v]) for v in present}


def add_counts(into: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    for symbol, n in more.items():
        into[symbol] = into.get(symbol, 0) + int(n)
    return into


# ---------------------------------------------------------------------------------------------
# vocabularies


def text_vocab(
    train_counts: Mapping[str, int],
    kind: VocabKind,
    *,
    other_counts: Iterable[Mapping[str, int]] = (),
    min_count: int = 1,
    coverage: float = 1.0,
    always_unk: bool = False,
) -> Vocab:
    """The vocabulary of a text build, from the training split's counts only.

    `<unk>` (id 0) is reserved when `always_unk` (code-point vocabularies: an explicit unknown id
    for text the training split never showed), or when something would otherwise have no id:
    a symbol cut by `min_count` / `coverage`, or one that occurs only outside the training split
    (`other_counts`). A byte vocabulary of enwik8 therefore has exactly the bytes it uses
    (205 on the real file, as the paper counts), and no id that never occurs.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    with_unk = build_vocab(train_counts, kind, (UNK,), min_count, coverage)
    if always_unk:
        return with_unk
    kept = set(with_unk.symbols[1:])
    seen = {s for s, n in train_counts.items() if n > 0}
    for counts in other_counts:
        seen.update(s for s, n in counts.items() if n > 0)
    if seen <= kept:
        return build_vocab(train_counts, kind, (), min_count, coverage)
    return with_unk


def vocab_id_type(vocab: Vocab) -> pa.DataType:
    """The schema's id type for `vocab` (`Vocab.id_type`)."""
    return vocab.id_type


# ---------------------------------------------------------------------------------------------
# encoding


@dataclass(frozen=True)
class Encoded:
    """Ids of a buffer, and how many of its symbols had no id of their own (became <unk>)."""

    ids: npt.NDArray[Any]
    unknown: int


def encode_bytes(data: bytes | bytearray | memoryview, vocab: Vocab) -> Encoded:
    """Bytes -> ids through the vocabulary's 256-entry lookup table."""
    table = vocab.byte_table()
    raw = table[as_byte_array(data)]
    missing = raw < 0
    unknown = int(np.count_nonzero(missing))
    if unknown:
        unk = vocab.unk_id
        if unk is None:
            value = int(as_byte_array(data)[np.argmax(missing)])
            raise ValueError(f"byte {value} is not in the vocabulary and no {UNK} is reserved")
        raw[missing] = unk
    return Encoded(raw.astype(vocab.id_dtype), unknown)


@dataclass(frozen=True)
class CharTable:
    """Sorted code points of a character vocabulary's symbols, and their ids."""

    points: npt.NDArray[np.uint32]
    ids: npt.NDArray[np.int64]
    unk_id: int | None
    dtype: np.dtype[Any]


def char_table(vocab: Vocab) -> CharTable:
    """The lookup `encode_chars` uses: binary search over the sorted code points."""
    if vocab.kind != "char":
        raise ValueError("char_table needs a character vocabulary")
    pairs = sorted(
        (ord(s), i) for i, s in enumerate(vocab.symbols) if s not in vocab.reserved and len(s) == 1
    )
    points = np.array([p for p, _ in pairs], dtype=np.uint32)
    ids = np.array([i for _, i in pairs], dtype=np.int64)
    return CharTable(points, ids, vocab.unk_id, vocab.id_dtype)


def encode_chars(text: str, table: CharTable) -> Encoded:
    """Characters -> ids; characters outside the vocabulary become <unk>."""
    points = code_points(text)
    if not len(table.points):
        found = np.zeros(len(points), dtype=bool)
        position = np.zeros(len(points), dtype=np.int64)
    else:
        position = np.minimum(np.searchsorted(table.points, points), len(table.points) - 1)
        found = table.points[position] == points
    unknown = int(len(points) - np.count_nonzero(found))
    if unknown and table.unk_id is None:
        char = chr(int(points[np.argmin(found)]))
        raise ValueError(f"character {char!r} is not in the vocabulary and no {UNK} is reserved")
    ids = np.where(found, table.ids[position] if len(table.ids) else 0, table.unk_id or 0)
    return Encoded(ids.astype(table.dtype), unknown)


def decode_bytes(ids: Iterable[int], vocab: Vocab) -> bytes:
    """The inverse of `encode_bytes` (where nothing became <unk>)."""
    out = bytearray()
    for i in ids:
        symbol = vocab.symbols[int(i)]
        if symbol in vocab.reserved:
            raise ValueError(f"id {i} is the reserved symbol {symbol!r}, which has no byte")
        out.append(ord(symbol))
    return bytes(out)


def id_counts(ids: npt.NDArray[Any], vocab: Vocab) -> dict[str, int]:
    """{symbol: count} of an id array, in the vocabulary's spelling."""
    counts = np.bincount(ids.astype(np.int64), minlength=len(vocab))
    return {vocab.symbols[i]: int(n) for i, n in enumerate(counts) if n}


# ---------------------------------------------------------------------------------------------
# chunking


@dataclass(frozen=True)
class ChunkRange:
    """Rows [first_row, end_row) of a split; they hold symbols [start, stop) of its stream."""

    first_row: int
    end_row: int
    start: int
    stop: int


def plan_chunk_ranges(total: int, seq_len: int, rows_per_unit: int) -> list[ChunkRange]:
    """Divide a split of `total` symbols into units of whole rows, in source order.

    Rows start at multiples of `seq_len` from the split's start; only the split's last row is
    short. The plan depends on nothing but these three numbers, so the rows (and the shards)
    are the same whatever read the source and however many workers ran.
    """
    if seq_len < 1 or rows_per_unit < 1:
        raise ValueError("seq_len and rows_per_unit must be positive")
    if total == 0:
        return [ChunkRange(0, 0, 0, 0)]  # an empty split still gets its (empty) shard
    rows = math.ceil(total / seq_len)
    ranges = []
    for first in range(0, rows, rows_per_unit):
        end = min(rows, first + rows_per_unit)
        ranges.append(ChunkRange(first, end, first * seq_len, min(end * seq_len, total)))
    return ranges


def rows_per_unit(shard_mb: float, seq_len: int) -> int:
    """Rows of one unit (and shard) for a target of `shard_mb` million symbols."""
    if shard_mb <= 0:
        raise ValueError(f"shard size must be positive, got {shard_mb}")
    return max(1, round(shard_mb * 1_000_000 / seq_len))


def row_group_rows(seq_len: int) -> int:
    """Rows per Parquet row group: about 1 MB of ids, a good unit for streaming readers."""
    return max(64, (1 << 20) // seq_len)


def chunk_table(ids: npt.NDArray[Any], seq_len: int, first_offset: int) -> pa.Table:
    """Ids -> rows of `seq_len` (ids, offset, length); the last row zero-padded.

    `first_offset` is the split-stream position of ids[0]; it must be a multiple of seq_len
    (rows start at multiples of seq_len), which this checks rather than trusts.
    """
    if first_offset % seq_len:
        raise ValueError(f"rows start at multiples of {seq_len}, not at {first_offset}")
    n = len(ids)
    rows = math.ceil(n / seq_len)
    if rows * seq_len == n:
        flat = np.ascontiguousarray(ids)
    else:
        flat = np.zeros(rows * seq_len, dtype=ids.dtype)
        flat[:n] = ids
    lengths = np.full(rows, seq_len, dtype=np.int32)
    if rows:
        lengths[-1] = n - (rows - 1) * seq_len
    offsets = first_offset + np.arange(rows, dtype=np.int64) * seq_len
    values = pa.FixedSizeListArray.from_arrays(pa.array(flat), seq_len)
    return pa.table({"ids": values, "offset": pa.array(offsets), "length": pa.array(lengths)})


def rows_to_ids(ids: npt.NDArray[Any], lengths: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The real ids of a block of rows (ids shaped rows x seq_len), padding removed."""
    if ids.ndim != 2:
        raise ValueError("expected a 2-d array of rows")
    mask = np.arange(ids.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return ids[mask]


# ---------------------------------------------------------------------------------------------
# Penn Treebank

PTB_WORD_BOUNDARY = "_"


def ptb_words_to_chars(text: str) -> str:
    """A PTB word-level file (`ptb.train.txt`) as its character stream.

    The conventions of the release's `ptb.char.*` files: one sentence a line, words joined by
    `_`, `<unk>` and `N` spelled out as characters; the spaces around each line are layout.
    Every newline-terminated line keeps its newline (the end-of-sentence symbol), even empty.
    """
    lines = text.split("\n")
    out = [PTB_WORD_BOUNDARY.join(line.split()) + "\n" for line in lines[:-1]]
    tail = lines[-1].split()
    if tail:
        out.append(PTB_WORD_BOUNDARY.join(tail))
    return "".join(out)


def ptb_char_file_to_chars(text: str) -> str:
    """A PTB character-level file (`ptb.char.train.txt`) as its character stream.

    The file writes each symbol followed by a space, newlines included, so every line after
    the first starts with a space and the file ends with one (known quirks of the release,
    kept here): the symbols of a line are its space-separated tokens.
    """
    lines = text.split("\n")
    out = ["".join(line.split()) + "\n" for line in lines[:-1]]
    tail = "".join(lines[-1].split())
    if tail:
        out.append(tail)
    return "".join(out)


def ptb_chars_to_char_file(stream: str) -> str:
    """The inverse of `ptb_char_file_to_chars`: the release's exact char-file layout."""
    return "".join(symbol + " " for symbol in stream)


# ---------------------------------------------------------------------------------------------
# Wikipedia

_NON_ARTICLE_LINK = re.compile(
    r"^\s*(category|file|image|media|[a-z]{2,3}(-[a-z]{2,8})*|simple)\s*:", re.IGNORECASE
)
_DROPPED_TAGS = frozenset(
    {"ref", "references", "math", "gallery", "table", "timeline", "score", "graph", "imagemap"}
)
_LIST_MARKERS = frozenset({"li", "dt", "dd", "hr"})
_BLANK_LINES = re.compile(r"\n[ \t]*(\n[ \t]*)+\n")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_LEADING_SPACE = re.compile(r"\n[ \t]+")


def wikitext_to_plain(wikitext: str) -> str:
    """Wiki markup removed, prose kept: what a reader of the article sees as running text.

    Built on mwparserfromhell's parse tree, not its `strip_code`, which keeps category and file
    links, reference bodies and table cells. Kept: text, the visible text of article links and
    external links, headings (as their own line), bold/italic/html contents, entities decoded.
    Dropped: templates, references, tables, math, galleries, comments, category / file /
    interlanguage links, list and rule markers. Spaces around lines go (the markers' and a
    preformatted line's), and runs of blank lines become one blank line.
    """
    import mwparserfromhell

    plain = _plain(mwparserfromhell.parse(wikitext, skip_style_tags=False))
    plain = _LEADING_SPACE.sub("\n", _TRAILING_SPACE.sub("\n", plain))
    return _BLANK_LINES.sub("\n\n", plain).strip()


def _plain(code: Any) -> str:
    return "".join(_plain_node(node) for node in code.nodes)


def _plain_node(node: Any) -> str:
    from mwparserfromhell import nodes

    if isinstance(node, nodes.Text):
        return str(node.value)
    if isinstance(node, nodes.Wikilink):
        if _NON_ARTICLE_LINK.match(str(node.title)) and not str(node.title).startswith(":"):
            return ""
        shown = node.text if node.text is not None else node.title
        return _plain(shown).lstrip(":")
    if isinstance(node, nodes.ExternalLink):
        if node.title is not None:
            return _plain(node.title)
        return "" if node.brackets else str(node.url)
    if isinstance(node, nodes.Heading):
        return "\n" + _plain(node.title).strip() + "\n"
    if isinstance(node, nodes.HTMLEntity):
        return str(node.normalize())
    if isinstance(node, nodes.Tag):
        return _plain_tag(node)
    # templates, template arguments, comments
    return ""


def _plain_tag(node: Any) -> str:
    name = str(node.tag).strip().lower()
    if name in _DROPPED_TAGS or name in _LIST_MARKERS:
        return ""
    if name == "br":
        return "\n"
    if node.contents is None:
        return ""
    return _plain(node.contents)


def page_segment(title: str, body: str, include_title: bool) -> str:
    """One page's part of a split's text stream: optional title line, body, blank line."""
    body = body.strip()
    if include_title:
        return f"{title}\n\n{body}\n\n"
    return f"{body}\n\n"
