"""The sentence composer: stable for a seed, varied, writable in ISO-8859-1 and drawable."""

from __future__ import annotations

import random
import string

import pytest

from graves_data.synth import english
from graves_data.synth._glyphs import FONTS, font
from graves_data.synth.english import SentenceComposer, wrap


def test_same_seed_same_text_other_seed_other_text() -> None:
    assert SentenceComposer(7).paragraph(20) == SentenceComposer(7).paragraph(20)
    assert SentenceComposer(7).paragraph(20) != SentenceComposer(8).paragraph(20)


def test_sentences_look_like_english_prose() -> None:
    composer = SentenceComposer(1)
    sentences = [composer.sentence() for _ in range(400)]
    for sentence in sentences:
        assert sentence[0].isupper() or sentence[0] == '"', sentence
        assert sentence.rstrip('"')[-1] in ".?!", sentence
        assert "  " not in sentence and sentence == sentence.strip()
    text = " ".join(sentences)
    words = {w.strip(string.punctuation) for w in text.split()}
    assert len(words) > 700, "a varied vocabulary"
    for mark in ",.\"'?!:;()-":
        assert mark in text, mark
    assert any(c.isdigit() for c in text)
    assert any(ord(c) > 127 for c in text), "some Latin-1 letters"
    text.encode("iso-8859-1")
    assert sum(ord(c) > 127 for c in text) < len(text) / 100, "only occasionally"


def test_paragraph_has_the_sentences_asked_for() -> None:
    assert SentenceComposer(3).paragraph(0) == ""
    paragraph = SentenceComposer(3).paragraph(5)
    assert paragraph.startswith(SentenceComposer(3).sentence())
    with pytest.raises(ValueError):
        SentenceComposer(3).paragraph(-1)


def test_lines_are_about_the_width_asked_for() -> None:
    lines = SentenceComposer(5).lines(200, width=36)
    assert len(lines) == 200
    lengths = [len(line) for line in lines]
    assert 30 <= sum(lengths) / len(lengths) <= 40
    assert max(lengths) <= 36 + 6 + 20  # the target plus a sixth, plus one long word at most
    assert all(line == line.strip() and line for line in lines)
    assert SentenceComposer(5).lines(0) == []


def test_wrap_keeps_every_word_in_order() -> None:
    text = SentenceComposer(9).paragraph(30)
    assert " ".join(wrap(text, 30, random.Random(0))) == " ".join(text.split())


@pytest.mark.parametrize("name", FONTS)
def test_every_character_composed_can_be_drawn(name: str) -> None:
    text = SentenceComposer(2).paragraph(3000)
    face = font(name)
    for char in sorted(set(text) - {" "}):
        glyph = face.glyph(char)
        assert glyph.pieces, char
    for char in "".join(english.FIRST_NAMES + english.SURNAMES + english.PLACES):
        if char != " ":
            face.glyph(char)
