"""`sample`'s own inputs (issue 14, item 19): a bias that is not a number in the paper's range
is one clear line, before any run is loaded; characters of `--text` outside the run's
vocabulary are named, with what stands in for them."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.errors import UsageError
from graves_data.models.sample import MAX_BIAS, check_bias, encode_text, outside_vocabulary
from graves_data.vocab import build_vocab


@pytest.mark.parametrize("bias", ["nan", "-1e9", "-0.5", "inf", "1e9"])
def test_a_bias_outside_the_range_is_one_line(bias: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["sample", "--run", str(tmp_path), "--out", str(tmp_path / "s.svg"), "--bias", bias]
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--bias" in lines[0] and "Traceback" not in result.output, lines


@pytest.mark.parametrize("bias", [0.0, 0.5, 10.0, MAX_BIAS])
def test_a_bias_in_the_range_passes(bias: float) -> None:
    check_bias(bias)


@pytest.mark.parametrize("bias", [float("nan"), float("-inf"), -1e-9, MAX_BIAS * 1.01])
def test_check_bias_refuses(bias: float) -> None:
    with pytest.raises(UsageError, match="--bias"):
        check_bias(bias)


def test_characters_outside_a_char_vocabulary_are_named(caplog: pytest.LogCaptureFixture) -> None:
    vocab = build_vocab(Counter("the quick brown fox"))
    text = "the café 😀 fox é"
    with caplog.at_level(logging.WARNING):
        ids = encode_text(vocab, text)
    assert outside_vocabulary(vocab, text) == ["a", "é", "😀"]
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for char in ("'é' (U+00E9)", "'😀' (U+1F600)", "'a' (U+0061)"):
        assert char in message, message
    assert "<unk>" in message
    unk = vocab.unk_id
    assert unk is not None
    expected = [vocab.id_of(c) if vocab.id_of(c) is not None else unk for c in text]
    assert ids.tolist() == expected


def test_characters_inside_the_vocabulary_give_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    vocab = build_vocab(Counter("the quick brown fox"))
    with caplog.at_level(logging.WARNING):
        encode_text(vocab, "the fox")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_byte_vocabulary_names_the_characters_not_the_bytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    vocab = build_vocab(Counter("plain ascii text"), kind="byte")
    with caplog.at_level(logging.WARNING):
        ids = encode_text(vocab, "text é")
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "'é' (U+00E9)" in message
    assert len(ids) == len("text é".encode())  # one id per byte, two <unk> for é
    assert np.count_nonzero(ids == vocab.unk_id) == 2


def test_a_vocabulary_without_unk_refuses_by_name() -> None:
    vocab = build_vocab(Counter("abc"), reserved=())
    with pytest.raises(UsageError, match=r"'é' \(U\+00E9\).*no <unk>"):
        encode_text(vocab, "abé")
