"""Property-based tests (hypothesis) of the transforms the datasets are made of.

`tests/pipelines/test_strokes.py` holds the offsets round-trip and cleaning idempotence; here:
encode/decode round-trips of every vocabulary (IAM-OnDB text ids, text bytes and characters,
PTB's character conventions, vocab.json read back), splitting is a partition (IAM-OnDB lists and
writers, enwik8 byte ranges, Wikipedia pages, text rows), and the stroke XML readers return
exactly the points written, the fast path and the lxml tree reader alike; the two readers agree
on mutated files (the same Ink, or the fast one steps aside); and batch cleaning gives exactly
what line-by-line cleaning gives.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graves_data.corpora.enwik8 import split_ranges
from graves_data.corpora.iam_ondb import (
    LISTS,
    SCHEMES,
    IamParams,
    assign_splits,
    parse_stroke_xml,
    parse_transcription,
    tree_stroke_xml,
    writer_split,
)
from graves_data.corpora.iam_ondb.readers import read_stroke_files
from graves_data.corpora.wikipedia import page_split
from graves_data.errors import BadInput
from graves_data.pipelines import strokebatch
from graves_data.pipelines.strokebatch import clean_batch
from graves_data.pipelines.strokes import CleanParams, CleanReport, Ink, clean
from graves_data.pipelines.text import (
    char_table,
    chunk_table,
    decode_bytes,
    encode_bytes,
    encode_chars,
    plan_chunk_ranges,
    ptb_char_file_to_chars,
    ptb_chars_to_char_file,
    rows_to_ids,
    text_vocab,
)
from graves_data.synth._formats import LineInk, line_xml, stroke_times
from graves_data.vocab import UNK, Vocab, build_vocab, count_symbols
from tests.reliability.fuzz_targets import check_readers_agree, fast_one_by_both

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# vocabularies: decode(encode(x)) == x

LATIN1_PRINTABLE = st.characters(
    codec="latin-1", exclude_categories=("Cc",), exclude_characters="\n\r"
)
TRANSCRIPTION_LINE = st.text(LATIN1_PRINTABLE, min_size=1, max_size=40).map(str.strip).filter(bool)


@PROPERTY
@given(train=st.lists(TRANSCRIPTION_LINE, min_size=1, max_size=8), other=TRANSCRIPTION_LINE)
def test_iam_text_ids_round_trip(train: list[str], other: str) -> None:
    """The IAM-OnDB vocabulary (train transcriptions, <unk> reserved) encodes every training
    line reversibly; any other line decodes with <unk> exactly where its symbols are unknown;
    vocab.json read back encodes the same."""
    vocab = build_vocab(count_symbols(train))
    for line in train:
        assert vocab.decode(vocab.encode(line)) == line
    expected = "".join(c if vocab.id_of(c) is not None else UNK for c in other)
    assert vocab.decode(vocab.encode(other)) == expected
    again = Vocab.from_json(json.loads(vocab.to_bytes()))
    assert again == vocab
    assert list(again.encode(other)) == list(vocab.encode(other))


@PROPERTY
@given(lines=st.lists(TRANSCRIPTION_LINE, min_size=1, max_size=6))
def test_a_transcription_file_gives_back_its_csr_lines(lines: list[str]) -> None:
    body = "\r\n".join(f"{line}  " for line in lines)
    data = f"OCR:\r\n\r\nsomething\r\n\r\nCSR:\r\n\r\n{body}\r\n".encode("iso-8859-1")
    assume(not _valid_utf8_beyond_ascii(data))
    assert parse_transcription(data, "x.txt") == lines


def _valid_utf8_beyond_ascii(data: bytes) -> bool:
    try:
        return not data.isascii() and bool(data.decode("utf-8"))
    except UnicodeDecodeError:
        return False


@PROPERTY
@given(train=st.binary(min_size=1, max_size=400), other=st.binary(max_size=200))
def test_byte_vocabularies_round_trip(train: bytes, other: bytes) -> None:
    """enwik8's byte vocabulary: exactly the bytes of train (no <unk> unless needed), and
    decode_bytes(encode_bytes(x)) == x for anything made of them."""
    counts = {chr(b): n for b, n in enumerate(np.bincount(list(train), minlength=256)) if n}
    vocab = text_vocab(counts, "byte", other_counts=[count_symbols([other.decode("latin-1")])])
    encoded = encode_bytes(train, vocab)
    assert encoded.unknown == 0
    assert decode_bytes(encoded.ids.tolist(), vocab) == train
    mixed = encode_bytes(other, vocab)
    assert mixed.unknown == sum(1 for b in other if chr(b) not in counts)
    if mixed.unknown == 0:
        assert decode_bytes(mixed.ids.tolist(), vocab) == other
    assert (UNK in vocab.symbols) == any(chr(b) not in counts for b in other)


@PROPERTY
@given(train=st.text(min_size=1, max_size=300), other=st.text(max_size=100))
def test_character_vocabularies_round_trip(train: str, other: str) -> None:
    """Code-point vocabularies (Wikipedia, PTB): ids map back to the characters, and a character
    the training split never showed becomes <unk>, counted."""
    assume("\x00" not in train)
    counts = count_symbols([train])
    vocab = text_vocab(counts, "char", always_unk=True)
    table = char_table(vocab)
    encoded = encode_chars(train, table)
    assert encoded.unknown == 0 and vocab.decode(encoded.ids.tolist()) == train
    mixed = encode_chars(other, table)
    assert mixed.unknown == sum(1 for c in other if c not in counts)
    assert vocab.decode(mixed.ids.tolist()) == "".join(c if c in counts else UNK for c in other)


PTB_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz'$&.-N0123456789"), min_size=1)


@PROPERTY
@given(sentences=st.lists(st.lists(PTB_WORD, min_size=1, max_size=8), min_size=1, max_size=5))
def test_ptb_character_files_round_trip(sentences: list[list[str]]) -> None:
    stream = "\n".join("_".join(words) for words in sentences) + "\n"
    assert ptb_char_file_to_chars(ptb_chars_to_char_file(stream)) == stream


# ---------------------------------------------------------------------------------------------
# splitting is a partition

WRITERS = st.one_of(st.none(), st.sampled_from([f"1{i:04d}" for i in range(12)]))
FORM_IDS = st.from_regex(r"[a-z][0-9]{2}-[0-9]{3}[a-z]?", fullmatch=True)


@PROPERTY
@given(
    forms=st.dictionaries(FORM_IDS, st.tuples(WRITERS, st.integers(1, 12)), max_size=40),
    seed=st.integers(0, 2**32 - 1),
    valid=st.floats(0.0, 0.45),
    test=st.floats(0.0, 0.45),
)
def test_writer_split_is_a_writer_disjoint_partition(
    forms: dict[str, tuple[str | None, int]], seed: int, valid: float, test: float
) -> None:
    assigned = writer_split(forms, seed, valid, test)
    assert set(assigned) == set(forms)
    assert set(assigned.values()) <= {"train", "valid", "test"}
    splits_of_writer: dict[str, set[str]] = {}
    for form, (writer, _) in forms.items():
        if writer:
            splits_of_writer.setdefault(writer, set()).add(assigned[form])
    assert all(len(splits) == 1 for splits in splits_of_writer.values())
    assert writer_split(dict(reversed(list(forms.items()))), seed, valid, test) == assigned
    total = sum(n for _, n in forms.values())
    groups: dict[str, int] = {}
    for form, (writer, lines) in forms.items():
        key = f"w:{writer}" if writer else f"f:{form}"
        groups[key] = groups.get(key, 0) + lines
    largest = max(groups.values(), default=0)
    for name, fraction in (("valid", valid), ("test", test)):
        held = sum(forms[f][1] for f, s in assigned.items() if s == name)
        assert held <= fraction * total + largest / 2  # whole writers: up to half of one over


@PROPERTY
@given(
    forms=st.lists(FORM_IDS, unique=True, max_size=30),
    placement=st.data(),
    scheme=st.sampled_from(sorted(SCHEMES)),
)
def test_assign_splits_places_every_form_once_or_says_why_not(
    forms: list[str], placement: st.DataObject, scheme: str
) -> None:
    lists: dict[str, list[str]] = {name: [] for name in LISTS}
    for form in forms:
        chosen = placement.draw(st.lists(st.sampled_from(LISTS), max_size=2, unique=True))
        for name in chosen:
            lists[name].append(form)
    absent = placement.draw(st.lists(FORM_IDS, max_size=3))
    lists["trainset"].extend(a for a in absent if a not in forms)
    counts = {form: (None, 1) for form in forms}
    assigned, left_out = assign_splits(counts, lists, IamParams(split=scheme))  # type: ignore[arg-type]
    reasons = {q.source: q.code for q in left_out}
    assert set(assigned).isdisjoint(reasons) and set(assigned) | set(reasons) == set(forms)
    split_of_list = {lst: split for split, names in SCHEMES[scheme].items() for lst in names}
    for form in forms:
        holding = [name for name in LISTS if form in lists[name]]
        if not holding:
            assert reasons[form] == "not-in-split"
        elif len(holding) > 1:
            assert reasons[form] == "in-two-lists"
        else:
            assert assigned[form] == split_of_list[holding[0]]


def assert_contiguous_cover(ranges: Sequence[tuple[int, int]], total: int) -> None:
    assert ranges[0][0] == 0 and ranges[-1][1] == total
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(start <= stop for start, stop in ranges)


@PROPERTY
@given(size=st.integers(0, 10**9), scheme=st.sampled_from(["paper", "standard"]))
def test_enwik8_splits_partition_the_file(size: int, scheme: str) -> None:
    ranges = split_ranges(size, scheme)  # type: ignore[arg-type]
    assert [r.name for r in ranges] == (
        ["train", "valid"] if scheme == "paper" else ["train", "valid", "test"]
    )
    assert_contiguous_cover([(r.start, r.stop) for r in ranges], size)


@PROPERTY
@given(total=st.integers(0, 5000), seq_len=st.integers(1, 300), per_unit=st.integers(1, 50))
def test_text_rows_partition_the_split(total: int, seq_len: int, per_unit: int) -> None:
    ranges = plan_chunk_ranges(total, seq_len, per_unit)
    assert_contiguous_cover([(r.first_row, r.end_row) for r in ranges], math.ceil(total / seq_len))
    assert_contiguous_cover([(r.start, r.stop) for r in ranges], total)
    assert all(r.start == r.first_row * seq_len for r in ranges)


@PROPERTY
@given(
    ids=st.lists(st.integers(0, 255), max_size=500),
    seq_len=st.integers(1, 64),
    first_row=st.integers(0, 1000),
)
def test_text_rows_give_back_the_ids(ids: list[int], seq_len: int, first_row: int) -> None:
    array = np.asarray(ids, dtype=np.uint8)
    table = chunk_table(array, seq_len, first_row * seq_len)
    rows = np.asarray(table.column("ids").to_pylist(), dtype=np.uint8).reshape(-1, seq_len)
    lengths = table.column("length").to_numpy()
    np.testing.assert_array_equal(rows_to_ids(rows, lengths), array)
    offsets = table.column("offset").to_numpy()
    np.testing.assert_array_equal(offsets, (first_row + np.arange(len(rows))) * seq_len)


@PROPERTY
@given(
    keys=st.lists(st.text(min_size=1, max_size=12), unique=True, max_size=60),
    seed=st.integers(0, 2**31),
    valid=st.floats(0.0, 0.5),
    test=st.floats(0.0, 0.5),
)
def test_wikipedia_pages_split_one_way_whatever_the_order(
    keys: list[str], seed: int, valid: float, test: float
) -> None:
    first = {key: page_split(key, seed, valid, test) for key in keys}
    second = {key: page_split(key, seed, valid, test) for key in reversed(keys)}
    assert first == second and set(first.values()) <= {"train", "valid", "test"}
    if valid == test == 0.0:
        assert set(first.values()) <= {"train"}


# ---------------------------------------------------------------------------------------------
# stroke XML: the readers return the points written


@st.composite
def inks(draw: st.DrawFn, allow_empty: bool = False) -> tuple[list[list[tuple[int, int, int]]]]:
    """Strokes of (x, y, centiseconds) points, times rising, as a pen writes them."""
    n_strokes = draw(st.integers(1, 6))
    t = draw(st.integers(0, 10**9))
    strokes = []
    for _ in range(n_strokes):
        n = draw(st.integers(0 if allow_empty else 1, 25))
        points = []
        for _ in range(n):
            t += draw(st.integers(0, 5))
            points.append(
                (draw(st.integers(-(2**23), 2**23)), draw(st.integers(-(10**6), 10**6)), t)
            )
        strokes.append(points)
        t += draw(st.integers(1, 300))
    return (strokes,)


def line_ink(strokes: list[list[tuple[int, int, int]]]) -> LineInk:
    flat = [p for stroke in strokes for p in stroke]
    x, y, t = (np.asarray([p[i] for p in flat], dtype=np.int64) for i in range(3))
    ends = np.cumsum([len(s) for s in strokes]).astype(np.int64)
    return LineInk(x, y, t, ends, stroke_times(t, ends))


def assert_points(ink: object, strokes: list[list[tuple[int, int, int]]]) -> None:
    flat = [p for stroke in strokes for p in stroke]
    np.testing.assert_array_equal(ink.x, [p[0] for p in flat])  # type: ignore[attr-defined]
    np.testing.assert_array_equal(ink.y, [p[1] for p in flat])  # type: ignore[attr-defined]
    times = ink.t  # type: ignore[attr-defined]
    if not flat and times is None:
        pass  # no point, no time: the tree reader says None, the fast path an empty array
    else:
        np.testing.assert_allclose(times, [p[2] / 100 for p in flat], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ink.ends, np.cumsum([len(s) for s in strokes]))  # type: ignore[attr-defined]


@PROPERTY
@given(drawn=inks())
def test_a_release_form_stroke_file_reads_back_exactly(
    drawn: tuple[list[list[tuple[int, int, int]]]],
) -> None:
    (strokes,) = drawn
    data = line_xml(line_ink(strokes))
    fast = fast_one_by_both(data)
    assert fast is not None, "the release's own form must take the fast path"
    assert_points(fast, strokes)
    assert_points(tree_stroke_xml(data, "x.xml"), strokes)


def other_form(strokes: list[list[tuple[int, int, int]]], style: dict[str, object]) -> bytes:
    """The same points in a form the release does not use: other attribute order, quoting,
    white space, comments, self-closing empty strokes."""
    quote = str(style["quote"])
    order = list(style["order"])  # type: ignore[call-overload]
    pad = str(style["pad"])
    parts = ['<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>']
    if style["comment"]:
        parts.append("<!-- captured -->")
    parts.append("<StrokeSet>")
    for stroke in strokes:
        if not stroke and style["self_closing"]:
            parts.append("<Stroke/>")
            continue
        parts.append("<Stroke colour=" + quote + "black" + quote + ">")
        for x, y, t in stroke:
            values = {"x": str(x), "y": str(y), "time": f"{t // 100}.{t % 100:02d}"}
            attrs = pad.join(f"{k}={quote}{values[k]}{quote}" for k in order)
            parts.append(f"<Point{pad}{attrs}{pad}/>")
        parts.append("</Stroke>")
    parts.append("</StrokeSet></WhiteboardCaptureSession>")
    return "\n".join(parts).encode()


STYLES = st.fixed_dictionaries(
    {
        "quote": st.sampled_from(['"', "'"]),
        "order": st.permutations(["x", "y", "time"]),
        "pad": st.sampled_from([" ", "  ", "\t", "\r\n "]),
        "comment": st.booleans(),
        "self_closing": st.booleans(),
    }
)


@PROPERTY
@given(drawn=inks(allow_empty=True), style=STYLES)
def test_fast_and_tree_readers_agree_on_any_form(
    drawn: tuple[list[list[tuple[int, int, int]]]], style: dict[str, object]
) -> None:
    (strokes,) = drawn
    data = other_form(strokes, style)
    tree = tree_stroke_xml(data, "x.xml")
    assert_points(tree, strokes)
    fast = fast_one_by_both(data)
    if fast is not None:  # where the fast path takes a file, it must read what the tree reads
        assert_points(fast, strokes)
    assert_points(parse_stroke_xml(data, "x.xml"), strokes)


@pytest.mark.parametrize("empty_first", [True, False])
def test_empty_strokes_are_kept_as_strokes_by_both_readers(empty_first: bool) -> None:
    strokes = [[], [(1, 2, 100), (3, 4, 101)]] if empty_first else [[(1, 2, 100)], []]
    data = other_form(
        strokes,
        {
            "quote": '"',
            "order": ["x", "y", "time"],
            "pad": " ",
            "comment": False,
            "self_closing": False,
        },
    )
    assert_points(tree_stroke_xml(data, "x.xml"), strokes)
    assert_points(parse_stroke_xml(data, "x.xml"), strokes)


# ---------------------------------------------------------------------------------------------
# the two stroke readers agree on every input (issue 14 item 5)


def release_form(strokes: list[list[tuple[int, int, int]]]) -> bytes:
    return line_xml(line_ink(strokes))


@pytest.mark.parametrize(
    "old, new",
    [
        (b"<WhiteboardCaptureSession>", b'<WhiteboardCaptureSession xmlns="urn:x">'),
        (b"<StrokeSet>", b'<StrokeSet xmlns="urn:x">'),
        (b"<WhiteboardCaptureSession>", b'<a:WhiteboardCaptureSession xmlns:a="urn:x">'),
    ],
)
def test_a_namespaced_root_or_strokeset_is_refused_by_both_readers(old: bytes, new: bytes) -> None:
    """A default namespace puts every element in it: the document has no un-namespaced
    WhiteboardCaptureSession (or StrokeSet), so neither reader may read its points."""
    data = release_form([[(1, 2, 100), (3, 4, 101)]]).replace(old, new, 1)
    if new.startswith(b"<a:"):
        data = data.replace(b"</WhiteboardCaptureSession>", b"</a:WhiteboardCaptureSession>")
    assert fast_one_by_both(data) is None
    with pytest.raises(BadInput) as refused:
        tree_stroke_xml(data, "x.xml")
    assert refused.value.code in {"wrong-root", "no-strokeset"}
    with pytest.raises(BadInput):
        parse_stroke_xml(data, "x.xml")


@st.composite
def value_texts(draw: st.DrawFn) -> str:
    """Number-like texts around the fast reader's limits (7 and 14 digits, one and two words):
    digits, perhaps a sign and a dot, perhaps one character put anywhere or replaced."""
    text = draw(st.text(alphabet="0123456789", min_size=0, max_size=18))
    if draw(st.booleans()):
        text = "-" + text
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + "." + text[at:]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        odd = draw(st.sampled_from(["x", "+", "e", " ", "-", ".", "/", "9"]))
        text = text[:at] + odd + text[at + draw(st.integers(0, 1)) :]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=value_texts(), which=st.sampled_from(["x", "y", "time"]), at=st.integers(0, 2))
def test_any_value_text_is_read_as_the_tree_reads_it(text: str, which: str, at: int) -> None:
    """One Point's x, y or time replaced by any text: the fast reader keeps the file exactly
    where the text is a number of its form (x, y: -?[0-9]{1,7}; time: NUMBER of at most 14
    digits within 1e12), and then reads what the tree reader reads."""
    strokes = [[(11, -22, 100), (3333, 4444, 12345), (-5, 6, 12346)]]
    old = release_form(strokes)
    points = [m.start() for m in re.finditer(rb"<Point ", old)]
    head = old.index(f' {which}="'.encode(), points[at]) + len(which) + 3
    data = old[:head] + text.encode() + old[old.index(b'"', head) :]
    if which == "time":
        form = re.fullmatch(r"-?[0-9]+(?:\.[0-9]+)?", text) is not None
        form = form and sum(c.isdigit() for c in text) <= 14 and abs(float(text)) <= 1e12
    else:
        form = re.fullmatch(r"-?[0-9]{1,7}", text) is not None
    fast = fast_one_by_both(data)
    assert (fast is not None) == form, text
    check_readers_agree([data, old, data])


# what a mutation splices into a release-form file: what each reader branches on
SPLICED = [
    b' xmlns="urn:x"',
    b' xmlns:a="urn:x"',
    b"a:",
    b"<!-- c -->",
    b"&amp;",
    b"<Extra/>",
    b"<Extra>",
    b"</Extra>",
    b'<Point x="1" y="2" time="3.00"/>',
    b"<Stroke>",
    b"</Stroke>",
    b"<StrokeSet>",
    b" ",
    b"_",
    b"1e3",
    b"\xe9",
    b"<?pi x?>",
    b"\x00",
]


@st.composite
def mutated_files(draw: st.DrawFn) -> list[bytes]:
    """A batch of stroke files: release-form files, some mutated (cut, spliced, byte flips)."""
    files = []
    for _ in range(draw(st.integers(1, 4))):
        (strokes,) = draw(inks())
        data = bytearray(release_form(strokes))
        for _ in range(draw(st.integers(0, 3))):
            where = draw(st.integers(0, len(data)))
            kind = draw(st.sampled_from(["splice", "splice", "cut", "flip"]))
            if kind == "splice":
                data[where:where] = draw(st.sampled_from(SPLICED))
            elif kind == "cut":
                del data[where : where + draw(st.integers(1, 40))]
            elif data:
                data[min(where, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        files.append(bytes(data))
    return files


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=mutated_files())
def test_both_readers_agree_on_mutated_files(files: list[bytes]) -> None:
    """The same Ink from both readers, or the fast one steps aside; a file the tree reader
    refuses is never kept by the fast one, alone or in a batch with other files."""
    check_readers_agree(files)
    for data, read in zip(files, read_stroke_files(files, ["x.xml"] * len(files)), strict=True):
        try:
            tree = tree_stroke_xml(data, "x.xml")
        except BadInput as error:
            assert isinstance(read, BadInput) and read.code == error.code
            continue
        assert isinstance(read, Ink)
        for field in ("x", "y", "ends"):
            np.testing.assert_array_equal(getattr(read, field), getattr(tree, field))
        assert (read.t is None) == (tree.t is None) or read.n_points == 0
        if read.t is not None and tree.t is not None:
            np.testing.assert_array_equal(read.t, tree.t)


# ---------------------------------------------------------------------------------------------
# batch cleaning gives exactly what line-by-line cleaning gives


@st.composite
def raw_lines(draw: st.DrawFn) -> Ink:
    """A line as a board records it, with its defects at drawn rates: duplicate points,
    spikes, long jumps, lost readings (time gaps), times zero, repeated, going backwards or
    unreadable (NaN), empty strokes; some lines have no times at all. The points come from a
    drawn seed (fast to make; hypothesis still explores the rates and sizes)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rate = {
        name: draw(st.sampled_from([0.0, 0.02, 0.1]))
        for name in ("same", "spike", "jump", "gap", "still", "back", "zero", "nan")
    }
    has_time = draw(st.integers(0, 9)) > 0
    sizes = draw(st.lists(st.integers(0, 40), max_size=5))
    n = sum(sizes)
    steps = rng.integers(-25, 26, size=(n, 2))
    steps[rng.random(n) < rate["same"]] = 0
    steps[rng.random(n) < rate["jump"], 0] += rng.integers(700, 5000)
    xy = np.cumsum(steps, axis=0) + rng.integers(-5000, 5000, size=2)
    spikes = rng.random(n) < rate["spike"]
    xy[spikes, 0] += rng.integers(700, 50_000, size=int(spikes.sum()))
    dt = np.full(n, 0.0075)
    gaps = rng.random(n) < rate["gap"]
    dt[gaps] *= rng.integers(3, 120, size=int(gaps.sum()))
    dt[rng.random(n) < rate["still"]] = 0.0
    backs = rng.random(n) < rate["back"]
    dt[backs] = -rng.uniform(0.001, 10, size=int(backs.sum()))
    t = rng.uniform(0, 1000) + np.cumsum(dt)
    t[rng.random(n) < rate["zero"]] = 0.0
    t[rng.random(n) < rate["nan"]] = np.nan
    ends = np.cumsum(sizes).astype(np.int64)
    return Ink(xy[:, 0].astype(np.int64), xy[:, 1].astype(np.int64), t if has_time else None, ends)


CLEANING = st.builds(
    CleanParams,
    gap_factor=st.sampled_from([1.5, 2.5, 4.0]),
    max_fill=st.integers(0, 12),
    spike_threshold=st.sampled_from([100.0, 600.0, 2000.0]),
    spike_width=st.integers(1, 3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(raw_lines(), min_size=1, max_size=6), params=CLEANING)
def test_batch_cleaning_is_line_by_line_cleaning(lines: list[Ink], params: CleanParams) -> None:
    """With the compiled kernels (where built) and with numpy alone: both give `clean`."""
    compiled = clean_batch(lines, params)
    kernels, strokebatch.COMPILED = strokebatch.COMPILED, None
    try:
        numpy_only = clean_batch(lines, params)
    finally:
        strokebatch.COMPILED = kernels
    for batched in (compiled, numpy_only):
        assert_cleaned_alone(lines, batched, params)


def assert_cleaned_alone(
    lines: list[Ink], batched: list[tuple[Ink, CleanReport]], params: CleanParams
) -> None:
    assert len(batched) == len(lines)
    for line, (ink, report) in zip(lines, batched, strict=True):
        alone, alone_report = clean(line, params)
        assert report == alone_report
        for field in ("x", "y", "ends"):
            np.testing.assert_array_equal(getattr(ink, field), getattr(alone, field))
        assert (ink.t is None) == (alone.t is None)
        if ink.t is not None and alone.t is not None:
            np.testing.assert_array_equal(ink.t, alone.t)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from([0.01, 0.02, 1e-300, 3.5, 1e300, np.inf])),
        max_size=60,
    ),
    st.lists(st.floats(1e-9, 1e9), max_size=20),
)
def test_values_sorted_within_lines_are_lexsorts(
    pairs: list[tuple[int, float]], extra: list[float]
) -> None:
    """The sampling periods' medians come from values sorted within their lines by rank
    keys: the values must be those of lexsort((values, line)), bit for bit."""
    from graves_data.pipelines.strokebatch import _sorted_within

    lines = sorted([line for line, _ in pairs] + [7] * len(extra))
    values = np.array([value for _, value in pairs] + extra, dtype=np.float64)
    line = np.array(lines, dtype=np.int64)
    expected = values[np.lexsort((values, line))]
    found = _sorted_within(values, line, 8)
    np.testing.assert_array_equal(found.view(np.int64), expected.view(np.int64))
