"""The pure text transforms: counting, vocabularies, encoding, rows, PTB and wikitext."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graves_data.pipelines.text import (
    byte_count_map,
    byte_counts,
    char_counts,
    char_table,
    chunk_table,
    decode_bytes,
    encode_bytes,
    encode_chars,
    page_segment,
    plan_chunk_ranges,
    ptb_char_file_to_chars,
    ptb_chars_to_char_file,
    ptb_words_to_chars,
    rows_to_ids,
    text_vocab,
    vocab_id_type,
    wikitext_to_plain,
)
from graves_data.vocab import UNK
from tests.conftest import shared_sample

# ---------------------------------------------------------------------------------------------
# counting and vocabularies


def test_byte_counts_match_a_counter() -> None:
    data = bytes(range(256)) + b"hello world" * 3 + "Zürich".encode()
    expected = Counter(data)
    counts = byte_counts(data)
    assert [int(counts[b]) for b in range(256)] == [expected.get(b, 0) for b in range(256)]
    assert byte_count_map(counts) == {chr(b): n for b, n in expected.items()}


def test_char_counts_match_a_counter() -> None:
    text = "Łódź — 東京 naïve 𝔘nicode\n" * 5
    assert char_counts(text) == dict(Counter(text))
    assert char_counts("") == {}


def test_byte_vocab_has_no_unk_when_every_byte_is_covered() -> None:
    train = byte_count_map(byte_counts(b"abcabc\xc3\xa9"))
    vocab = text_vocab(train, "byte", other_counts=[{"a": 3}])
    assert vocab.reserved == ()
    assert vocab.symbols == tuple(sorted(train, key=ord))
    assert vocab.unk_id is None


def test_byte_vocab_gains_unk_for_bytes_only_outside_train() -> None:
    train = byte_count_map(byte_counts(b"abc"))
    vocab = text_vocab(train, "byte", other_counts=[{"z": 1}])
    assert vocab.symbols == (UNK, "a", "b", "c")
    assert vocab.unk_id == 0


def test_min_count_and_coverage_cut_to_unk() -> None:
    counts = {"a": 10, "b": 5, "c": 1}
    assert text_vocab(counts, "char", min_count=2).symbols == (UNK, "a", "b")
    assert text_vocab(counts, "char", coverage=0.6).symbols == (UNK, "a")
    # unk's count is what was cut
    assert text_vocab(counts, "char", min_count=2).counts[0] == 1


def test_char_vocab_always_has_an_unknown_id() -> None:
    vocab = text_vocab({"a": 1}, "char", always_unk=True)
    assert vocab.symbols == (UNK, "a")


def test_id_type_follows_vocabulary_size() -> None:
    small = text_vocab({chr(0x100 + i): 1 for i in range(255)}, "char", always_unk=True)
    large = text_vocab({chr(0x100 + i): 1 for i in range(256)}, "char", always_unk=True)
    assert str(vocab_id_type(small)) == "uint8"
    assert str(vocab_id_type(large)) == "uint16"


# ---------------------------------------------------------------------------------------------
# encoding


def test_byte_encoding_round_trips_and_counts_unknowns() -> None:
    data = "naïve café\n".encode()
    vocab = text_vocab(byte_count_map(byte_counts(data)), "byte")
    encoded = encode_bytes(data, vocab)
    assert encoded.unknown == 0
    assert encoded.ids.dtype == np.uint8
    assert decode_bytes(encoded.ids, vocab) == data
    with_unk = text_vocab(byte_count_map(byte_counts(b"abc")), "byte", other_counts=[{"z": 1}])
    assert encode_bytes(b"abzzc", with_unk).unknown == 2
    assert list(encode_bytes(b"abzzc", with_unk).ids) == [1, 2, 0, 0, 3]


def test_byte_encoding_without_unk_refuses_an_unseen_byte() -> None:
    vocab = text_vocab({"a": 1}, "byte")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        encode_bytes(b"ab", vocab)


def test_char_encoding_maps_unseen_characters_to_unk() -> None:
    vocab = text_vocab(char_counts("hello wörld"), "char", always_unk=True)
    encoded = encode_chars("hello 東京 wörld", char_table(vocab))
    assert encoded.unknown == 2
    decoded = vocab.decode(encoded.ids)
    assert decoded == f"hello {UNK}{UNK} wörld"
    assert vocab.decode(encode_chars("wörld", char_table(vocab)).ids) == "wörld"


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=200))
def test_char_encoding_round_trips(text: str) -> None:
    vocab = text_vocab(char_counts(text), "char", always_unk=True)
    assert vocab.decode(encode_chars(text, char_table(vocab)).ids) == text


# ---------------------------------------------------------------------------------------------
# rows


@pytest.mark.parametrize("total", [0, 1, 99, 100, 101, 1000, 1234])
def test_chunk_ranges_partition_the_split(total: int) -> None:
    ranges = plan_chunk_ranges(total, 100, 3)
    assert ranges[0].start == 0 and ranges[-1].stop == total
    for a, b in itertools.pairwise(ranges):
        assert a.stop == b.start and a.end_row == b.first_row
        assert a.start % 100 == 0
    assert sum(r.end_row - r.first_row for r in ranges) == math.ceil(total / 100)


def test_chunk_table_pads_only_the_last_row() -> None:
    ids = np.arange(1, 251, dtype=np.uint8)
    table = chunk_table(ids, 100, 300)
    assert table.num_rows == 3
    assert table.column("offset").to_pylist() == [300, 400, 500]
    assert table.column("length").to_pylist() == [100, 100, 50]
    rows = np.array(table.column("ids").to_pylist(), dtype=np.uint8)
    assert (rows[2, 50:] == 0).all()
    assert list(rows_to_ids(rows, table.column("length").to_numpy())) == list(ids)


def test_chunk_table_refuses_a_start_off_the_row_grid() -> None:
    with pytest.raises(ValueError, match="multiples"):
        chunk_table(np.zeros(5, dtype=np.uint8), 100, 50)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 700), st.integers(1, 64))
def test_rows_round_trip(n: int, seq_len: int) -> None:
    ids = (np.arange(n) % 251).astype(np.uint8)
    table = chunk_table(ids, seq_len, 0)
    if n == 0:
        assert table.num_rows == 0
        return
    rows = np.array(table.column("ids").to_pylist(), dtype=np.uint8)
    assert np.array_equal(rows_to_ids(rows, table.column("length").to_numpy()), ids)


# ---------------------------------------------------------------------------------------------
# Penn Treebank


def test_ptb_word_and_char_files_give_the_same_stream() -> None:
    words = " the cat 's <unk> sat \n N dogs \n"
    chars = "t h e _ c a t _ ' s _ < u n k > _ s a t \n N _ d o g s \n "
    assert ptb_words_to_chars(words) == "the_cat_'s_<unk>_sat\nN_dogs\n"
    assert ptb_char_file_to_chars(chars) == ptb_words_to_chars(words)
    assert ptb_chars_to_char_file(ptb_words_to_chars(words)) == chars


def test_ptb_file_without_final_newline() -> None:
    assert ptb_words_to_chars(" a b \n c d ") == "a_b\nc_d"


def test_ptb_real_sample_word_file_converts_to_the_char_file_exactly() -> None:
    sample = shared_sample("ptb-sample")
    words = (sample / "ptb.valid.txt").read_text(encoding="utf-8")
    chars = (sample / "ptb.char.valid.txt").read_text(encoding="utf-8")
    stream = ptb_words_to_chars(words)
    assert stream == ptb_char_file_to_chars(chars)
    assert ptb_chars_to_char_file(stream) == chars
    assert stream.count("\n") == words.count("\n") == 3370


def test_ptb_real_sample_decodes_to_itself() -> None:
    sample = shared_sample("ptb-sample")
    stream = ptb_char_file_to_chars((sample / "ptb.char.valid.txt").read_text(encoding="utf-8"))
    vocab = text_vocab(char_counts(stream), "char", always_unk=True)
    encoded = encode_chars(stream, char_table(vocab))
    assert encoded.unknown == 0
    assert vocab.decode(encoded.ids) == stream
    # 49 symbols of the char file (letters, digits, punctuation, N, _) plus the newline
    assert len(vocab) - 1 == len(set(stream)) == 50


def test_wiki_real_sample_bytes_decode_to_themselves() -> None:
    data = (shared_sample("wiki-sample") / "enwik8.head1e4").read_bytes()
    vocab = text_vocab(byte_count_map(byte_counts(data)), "byte")
    assert len(vocab) == len(set(data))
    assert decode_bytes(encode_bytes(data, vocab).ids, vocab) == data
    text = data.decode("utf-8", errors="strict")
    chars = text_vocab(char_counts(text), "char", always_unk=True)
    assert chars.decode(encode_chars(text, char_table(chars)).ids) == text


# ---------------------------------------------------------------------------------------------
# wikitext


def test_plain_text_keeps_prose_and_drops_markup() -> None:
    wikitext = (
        "{{Infobox city|name=X}}\n'''Zürich''' is a [[city]] in [[Switzerland|the Swiss]] "
        "confederation.<ref>{{cite web|url=x}}</ref> It has&nbsp;400,000 people.\n\n"
        "== History ==\nFounded by the [[Romans]].<!-- check -->\n"
        '{| class="wikitable"\n|-\n| a || b\n|}\n'
        "* [http://example.org Official site]\n"
        "[[Category:Cities]]\n[[File:Zurich.jpg|thumb|A view]]\n[[de:Zürich]]"
    )
    plain = wikitext_to_plain(wikitext)
    assert plain.startswith("Zürich is a city in the Swiss confederation. It has\xa0400,000")
    assert "\n\nHistory\n\nFounded by the Romans.\n\nOfficial site" in plain
    for gone in ("[[", "]]", "{{", "}}", "<ref", "Category", "wikitable", "A view", "de:", "=="):
        assert gone not in plain


def test_plain_text_of_the_real_sample_has_no_markup_left() -> None:
    import bz2
    import re

    data = bz2.decompress(
        (shared_sample("wiki-sample") / "enwiki-table-markup.xml.bz2").read_bytes()
    )
    from lxml import etree

    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    texts = [t.text or "" for t in root.iter("{*}text")]
    assert len(texts) == 5
    for text in texts:
        plain = wikitext_to_plain(text)
        assert len(plain) > 200
        assert not re.search(r"\[\[|\{\{|\{\||<ref|&lt;", plain)


def test_page_segment_layout() -> None:
    assert page_segment("T", "  body \n", True) == "T\n\nbody\n\n"
    assert page_segment("T", "body", False) == "body\n\n"
