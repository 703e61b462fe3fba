"""Penn Treebank: char and word files, the release archive, vocabulary, OOV, real sample."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from graves_data.corpora import CORPORA, ptb
from graves_data.corpora.ptb import PtbParams
from graves_data.errors import InputNotFound, NotACorpus
from graves_data.pipelines.runner import Execution
from graves_data.shards import open_dataset
from graves_data.synth.text import PtbSynthParams, write_ptb
from graves_data.vocab import UNK, Vocab
from tests.conftest import shared_sample

ONE = Execution(workers=1, progress=False)
TWO = Execution(workers=2, progress=False)
SYNTH = PtbSynthParams(lines=600, vocab=300, seed=5)


def split_text(out: Path, split: str) -> str:
    """A split's characters read back from its shards through vocab.json."""
    vocab = Vocab.from_json(json.loads((out / "vocab.json").read_text()))
    table = open_dataset(str(out)).table(split)
    seq_len = table.schema.field("ids").type.list_size
    ids = table.column("ids").combine_chunks().flatten().to_numpy().reshape(-1, seq_len)
    lengths = table.column("length").to_numpy()
    return vocab.decode(ids[np.arange(seq_len)[None, :] < lengths[:, None]])


def expected_stream(word_file: Path) -> str:
    """The PTB char conventions, spelled out independently of pipelines.text."""
    return "".join("_".join(line.split()) + "\n" for line in word_file.read_text().splitlines())


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ptb-raw")
    write_ptb(folder, SYNTH)
    return folder


@pytest.fixture(scope="module")
def built(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ptb-out") / "ds"
    return out, dict(ptb.build(str(raw), str(out), execution=ONE))


def test_registered() -> None:
    assert CORPORA["ptb"] is ptb.SPEC


def test_generated_files_have_the_release_layout(raw: Path) -> None:
    lines = (raw / "ptb.train.txt").read_text().splitlines()
    assert len(lines) == 600
    assert all(line.startswith(" ") and line.endswith(" ") for line in lines)
    words = Counter(w for line in lines for w in line.split())
    assert "<unk>" in words and "N" in words
    assert len(words) <= 300 + 1
    chars = (raw / "ptb.char.train.txt").read_text()
    assert not chars.startswith(" ") and chars.endswith("\n ")
    assert chars.splitlines()[1].startswith(" ")
    assert "< u n k >" in chars


def test_splits_decode_to_the_char_streams(raw: Path, built: tuple[Path, dict]) -> None:
    out, manifest = built
    assert list(manifest["splits"]) == ["train", "valid", "test"]
    for split in ("train", "valid", "test"):
        text = split_text(out, split)
        expected = expected_stream(raw / f"ptb.{split}.txt")
        known = set(expected_stream(raw / "ptb.train.txt"))
        assert text == "".join(c if c in known else UNK for c in expected)
        assert manifest["splits"][split]["symbols"] == len(expected)
        assert manifest["text"]["sentences"][split] == expected.count("\n")
    assert manifest["text"]["files"]["train"] == {"path": "ptb.char.train.txt", "kind": "char"}


def test_vocabulary_is_train_characters_with_counts(raw: Path, built: tuple[Path, dict]) -> None:
    out, _ = built
    counts = Counter(expected_stream(raw / "ptb.train.txt"))
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["reserved"] == {UNK: 0}
    entries = vocab["symbols"][1:]
    assert [e["symbol"] for e in entries] == sorted(counts)
    assert {e["symbol"]: e["count"] for e in entries} == dict(counts)
    assert vocab["symbols"][0]["count"] == 0


def test_word_files_archive_and_workers_give_the_same_rows(
    raw: Path, built: tuple[Path, dict], tmp_path: Path
) -> None:
    out, manifest = built
    words = ptb.build(str(raw), str(tmp_path / "w"), PtbParams(source="word"), execution=ONE)
    assert words["text"]["files"]["train"]["kind"] == "word"
    archive = tmp_path / "archive"
    write_ptb(archive, PtbSynthParams(lines=600, vocab=300, seed=5, archive=True))
    packed = ptb.build(str(archive / "simple-examples.tgz"), str(tmp_path / "a"), execution=TWO)
    # same params: byte-identical shards; the word-file build differs only in its params
    assert packed["content_hash"] == manifest["content_hash"]
    for split in ("train", "valid", "test"):
        assert split_text(tmp_path / "w", split) == split_text(out, split)


def test_oov_characters_are_counted(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "ptb.train.txt").write_text(" a b \n ab ba \n" * 60)
    (raw / "ptb.valid.txt").write_text(" a c \n a b \n")
    manifest = ptb.build(str(raw), str(tmp_path / "ds"), execution=ONE)
    assert manifest["splits"]["valid"]["unknown"] == 1
    assert manifest["splits"]["valid"]["symbols"] == len("a_c\na_b\n")
    assert "test" not in manifest["splits"]


def test_real_sample_builds_and_round_trips(tmp_path: Path) -> None:
    sample = shared_sample("ptb-sample")
    raw = tmp_path / "raw"
    raw.mkdir()
    # the sample ships the validation files only: they serve as train and valid here
    shutil.copy(sample / "ptb.char.valid.txt", raw / "ptb.char.train.txt")
    shutil.copy(sample / "ptb.valid.txt", raw / "ptb.valid.txt")
    manifest = ptb.build(str(raw), str(tmp_path / "ds"), execution=ONE)
    stream = expected_stream(sample / "ptb.valid.txt")
    assert split_text(tmp_path / "ds", "train") == stream
    assert split_text(tmp_path / "ds", "valid") == stream
    assert manifest["text"]["files"]["valid"]["kind"] == "word"
    assert manifest["vocab"]["size"] == 51  # <unk> and the 50 symbols of PTB's char files
    assert manifest["splits"]["valid"]["unknown"] == 0


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        ptb.build(str(tmp_path / "missing"), str(tmp_path / "ds"), execution=ONE)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "ptb.valid.txt").write_text(" a \n")
    with pytest.raises(NotACorpus, match="no PTB training file"):
        ptb.build(str(tmp_path / "raw"), str(tmp_path / "ds"), execution=ONE)
    (tmp_path / "raw" / "ptb.train.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(NotACorpus, match="not UTF-8"):
        ptb.build(str(tmp_path / "raw"), str(tmp_path / "ds"), execution=ONE)
    (tmp_path / "not.tgz").write_bytes(b"plain text, not an archive")
    with pytest.raises(NotACorpus):
        ptb.build(str(tmp_path / "not.tgz"), str(tmp_path / "ds"), execution=ONE)
