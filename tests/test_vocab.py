"""Vocabularies: documented order, counts, unknowns, and a lossless round trip."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graves_data.vocab import UNK, Vocab, build_vocab, count_symbols


def test_reserved_first_then_by_code_point() -> None:
    vocab = build_vocab(Counter("banana Bob!"))
    assert vocab.symbols == (UNK, " ", "!", "B", "a", "b", "n", "o")
    assert vocab.counts[vocab.symbols.index("a")] == 3
    assert vocab.unk_id == 0


def test_unknown_symbols_map_to_unk_and_are_counted() -> None:
    vocab = build_vocab(Counter("aaab"), min_count=2)
    assert vocab.symbols == (UNK, "a")
    assert vocab.counts == (1, 3)
    np.testing.assert_array_equal(vocab.encode("abz"), [1, 0, 0])


def test_coverage_keeps_the_most_frequent_symbols() -> None:
    vocab = build_vocab(Counter({"a": 90, "b": 9, "c": 1}), coverage=0.95)
    assert vocab.symbols == (UNK, "a", "b")


def test_cutting_symbols_without_unk_is_refused() -> None:
    with pytest.raises(ValueError, match="unk"):
        build_vocab(Counter("aab"), reserved=(), min_count=2)


def test_json_round_trip_keeps_ids_and_counts() -> None:
    vocab = build_vocab(Counter("hello world"))
    again = Vocab.from_json(json.loads(vocab.to_bytes()))
    assert again == vocab
    assert again.sha256() == vocab.sha256()


def test_byte_vocabulary_table() -> None:
    vocab = build_vocab({chr(b): 1 for b in (10, 65, 200)}, kind="byte", reserved=())
    table = vocab.byte_table()
    assert table[65] == 1 and table[200] == 2 and table[0] == -1
    assert vocab.to_json()["symbols"][2]["byte"] == 200


@given(st.text(min_size=1))
def test_decode_inverts_encode_over_the_training_text(text: str) -> None:
    vocab = build_vocab(count_symbols([text]))
    assert vocab.decode(vocab.encode(text).tolist()) == text


@given(
    st.lists(st.text(alphabet="abcé\u2028\ud800xyz<", max_size=8), max_size=6),
    st.sets(st.sampled_from(list("abcé\u2028\ud800<")), min_size=1),
    st.booleans(),
)
def test_encode_many_is_encode_of_each(texts: list[str], known: set[str], unk: bool) -> None:
    """The build encodes a unit's texts in one lookup: each character's id (<unk>'s where
    it is unknown), text by text; where a symbol is unknown and no <unk> is reserved, an
    error naming the first such symbol. `encode` of one text is the same."""
    vocab = build_vocab(Counter("".join(sorted(known))), reserved=(UNK,) if unk else ())
    joined = "".join(texts)
    missing = [char for char in joined if vocab.id_of(char) is None]
    if missing and not unk:
        message = f"symbol {missing[0]!r} not in vocabulary"
        with pytest.raises(ValueError, match=re.escape(message)):
            vocab.encode_many(texts)
        with pytest.raises(ValueError, match=re.escape(message)):
            vocab.encode(joined)
        return
    expected = [[vocab.id_of(char) if char in known else vocab.unk_id for char in t] for t in texts]
    found = vocab.encode_many(texts)
    assert [ids.tolist() for ids in found] == expected
    assert all(ids.dtype == vocab.id_dtype for ids in found)
    assert [vocab.encode(text).tolist() for text in texts] == expected
