"""enwik8: byte vocabulary, the paper's and the standard splits, rows, bytes back exactly."""

from __future__ import annotations

import json
import math
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from graves_data.corpora import CORPORA, enwik8
from graves_data.corpora.enwik8 import Enwik8Params, split_ranges
from graves_data.errors import InputNotFound, NotACorpus
from graves_data.pipelines.runner import Execution
from graves_data.shards import open_dataset
from graves_data.synth.text import Enwik8SynthParams, write_enwik8
from graves_data.textstats import text_stats
from graves_data.vocab import Vocab
from tests.conftest import shared_sample

SIZE = 300_000
ONE = Execution(workers=1, progress=False)
TWO = Execution(workers=2, progress=False)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("enwik8-raw")
    write_enwik8(folder, Enwik8SynthParams(size=SIZE, seed=3, zip=True))
    return folder


@pytest.fixture(scope="module")
def built(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("enwik8-out") / "ds"
    manifest = enwik8.build(
        str(raw / "enwik8"), str(out), Enwik8Params(shard_mb=0.05), execution=ONE
    )
    return out, dict(manifest)


def split_values(out: Path, split: str) -> list[int | None]:
    """A split's byte values read back from its shards through vocab.json (None: <unk>)."""
    dataset = open_dataset(str(out))
    vocab = Vocab.from_json(json.loads((out / "vocab.json").read_text()))
    table = dataset.table(split)
    seq_len = table.schema.field("ids").type.list_size
    ids = table.column("ids").combine_chunks().flatten().to_numpy().reshape(-1, seq_len)
    lengths = table.column("length").to_numpy()
    real = ids[np.arange(seq_len)[None, :] < lengths[:, None]]
    return [None if vocab.symbols[i] in vocab.reserved else ord(vocab.symbols[i]) for i in real]


def split_bytes(out: Path, split: str) -> bytes:
    return bytes(v for v in split_values(out, split) if v is not None)


def test_registered() -> None:
    assert CORPORA["enwik8"] is enwik8.SPEC


def test_split_sizes_on_the_real_file_size() -> None:
    paper = split_ranges(100_000_000, "paper")
    assert [(r.name, r.start, r.stop) for r in paper] == [
        ("train", 0, 96_000_000),
        ("valid", 96_000_000, 100_000_000),
    ]
    standard = split_ranges(100_000_000, "standard")
    assert [r.size for r in standard] == [90_000_000, 5_000_000, 5_000_000]


def test_smaller_inputs_keep_the_proportions() -> None:
    ranges = split_ranges(12_345, "standard")
    assert [r.size for r in ranges] == [11_110, 618, 617]  # cut at round(0.90 n), round(0.95 n)
    assert ranges[-1].stop == 12_345


def test_generated_file_is_enwik8_shaped(raw: Path) -> None:
    data = (raw / "enwik8").read_bytes()
    assert len(data) == SIZE
    assert data.startswith(b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.3/"')
    assert not data.rstrip().endswith(b"</mediawiki>")  # cut mid-page, like the real one
    assert max(data) >= 0x80  # UTF-8 beyond ASCII
    for markup in (b"[[", b"{{", b"{|", b"&lt;ref&gt;", b"[[Category:", b"#REDIRECT"):
        assert markup in data


def test_rows_and_symbols_per_split(built: tuple[Path, dict]) -> None:
    _, manifest = built
    train, valid = round(SIZE * 0.96), SIZE - round(SIZE * 0.96)
    assert manifest["splits"]["train"]["symbols"] == train
    assert manifest["splits"]["valid"]["symbols"] == valid
    assert manifest["splits"]["train"]["rows"] == math.ceil(train / 100)
    assert manifest["splits"]["valid"]["rows"] == math.ceil(valid / 100)
    assert len(manifest["splits"]["train"]["files"]) == math.ceil(train / 100 / 500)
    assert manifest["text"]["scaled_splits"] is True
    assert "proportions" in manifest["text"]["notes"][0]
    assert manifest["kind"] == "text"


def test_splits_give_the_file_back_byte_for_byte(raw: Path, built: tuple[Path, dict]) -> None:
    out, _ = built
    assert split_bytes(out, "train") + split_bytes(out, "valid") == (raw / "enwik8").read_bytes()


def test_rows_are_contiguous_across_shards(built: tuple[Path, dict]) -> None:
    out, _ = built
    table = open_dataset(str(out)).table("train")
    offsets = table.column("offset").to_numpy()
    assert np.array_equal(offsets, np.arange(len(offsets)) * 100)
    lengths = table.column("length").to_numpy()
    assert (lengths[:-1] == 100).all()


def test_vocabulary_is_the_training_bytes_with_their_counts(
    raw: Path, built: tuple[Path, dict]
) -> None:
    out, manifest = built
    data = (raw / "enwik8").read_bytes()
    train = Counter(data[: round(SIZE * 0.96)])
    vocab = json.loads((out / "vocab.json").read_text())
    byte_entries = [e for e in vocab["symbols"] if "byte" in e]
    assert [e["byte"] for e in byte_entries] == sorted(train)
    assert {e["byte"]: e["count"] for e in byte_entries} == dict(train)
    assert manifest["vocab"]["size"] == vocab["size"]


def test_workers_and_zip_give_identical_bytes(
    raw: Path, built: tuple[Path, dict], tmp_path: Path
) -> None:
    _, manifest = built
    again = enwik8.build(
        str(raw / "enwik8.zip"), str(tmp_path / "z"), Enwik8Params(shard_mb=0.05), execution=TWO
    )
    assert again["content_hash"] == manifest["content_hash"]
    assert [f["sha256"] for f in again["splits"]["train"]["files"]] == [
        f["sha256"] for f in manifest["splits"]["train"]["files"]
    ]


def test_standard_split_and_folder_input(raw: Path, tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    shutil.copy(raw / "enwik8", folder / "enwik8")
    manifest = enwik8.build(
        str(folder), str(tmp_path / "ds"), Enwik8Params(split="standard"), execution=ONE
    )
    assert list(manifest["splits"]) == ["train", "valid", "test"]
    assert [manifest["splits"][s]["symbols"] for s in ("train", "valid", "test")] == [
        r.size for r in split_ranges(SIZE, "standard")
    ]
    data = (folder / "enwik8").read_bytes()
    assert b"".join(split_bytes(tmp_path / "ds", s) for s in ("train", "valid", "test")) == data


def test_bytes_outside_train_are_counted_as_unknown(tmp_path: Path) -> None:
    data = b"abcd" * 240 + b"ab\xffz" * 10  # 960 bytes of train, 40 of valid with 2 new bytes
    (tmp_path / "enwik8").write_bytes(data)
    manifest = enwik8.build(str(tmp_path / "enwik8"), str(tmp_path / "ds"), execution=ONE)
    assert manifest["splits"]["valid"]["unknown"] == 20
    vocab = json.loads((tmp_path / "ds" / "vocab.json").read_text())
    assert vocab["reserved"] == {"<unk>": 0}
    assert vocab["size"] == 5
    report = text_stats(open_dataset(str(tmp_path / "ds")))
    assert report["splits"]["valid"]["oov_rate"] == 20 / 40
    assert report["splits"]["valid"]["unknown"] == 20
    assert report["splits"]["train"]["unigram_bits"] == pytest.approx(2.0)  # a, b, c, d evenly
    assert report["splits"]["train"]["counts"] == {"a": 240, "b": 240, "c": 240, "d": 240}
    # valid: a, b at 1/4 each and <unk> at 1/2 -> 1.5 bits
    assert report["splits"]["valid"]["unigram_bits"] == pytest.approx(1.5)
    # under train's add-one unigram model (<unk> never seen in train) valid costs more
    assert report["splits"]["valid"]["train_unigram_bits"] > 2.0


def test_real_sample_round_trips(tmp_path: Path) -> None:
    path = shared_sample("wiki-sample") / "enwik8.head1e4"
    data = path.read_bytes()
    manifest = enwik8.build(str(path), str(tmp_path / "ds"), execution=ONE)
    back = split_values(tmp_path / "ds", "train") + split_values(tmp_path / "ds", "valid")
    train = set(data[:9600])
    # bytes the training split never shows are <unk>; every other byte comes back exactly
    assert back == [b if b in train else None for b in data]
    assert manifest["splits"]["valid"]["unknown"] == sum(b not in train for b in data[9600:])
    assert manifest["vocab"]["size"] == len(train) + (1 if set(data) - train else 0)


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        enwik8.build(str(tmp_path / "missing"), str(tmp_path / "ds"), execution=ONE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotACorpus, match="no enwik8"):
        enwik8.build(str(tmp_path / "empty"), str(tmp_path / "ds"), execution=ONE)
    (tmp_path / "enwik8").write_bytes(b"")
    with pytest.raises(NotACorpus, match="empty"):
        enwik8.build(str(tmp_path / "enwik8"), str(tmp_path / "ds"), execution=ONE)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("a.txt", "x")
        archive.writestr("b.txt", "y")
    with pytest.raises(NotACorpus, match="no enwik8 member"):
        enwik8.build(str(tmp_path / "other.zip"), str(tmp_path / "ds"), execution=ONE)


def test_the_scaled_splits_note_is_shown_by_build_and_stats(raw: Path, tmp_path: Path) -> None:
    """The note that a file of another size got the paper's proportions was only in
    manifest.json; the build summary and `stats` show it where the user reads."""
    from click.testing import CliRunner

    from graves_data.cli import main

    out = tmp_path / "ds"
    args = ["build", "enwik8", "--raw", str(raw / "enwik8"), "--out", str(out), "--quiet"]
    built = CliRunner().invoke(main, [*args, "--workers", "1"])
    assert built.exit_code == 0, built.output
    [note] = json.loads((out / "manifest.json").read_text())["text"]["notes"]
    assert f"the input has {SIZE} bytes, not enwik8's {enwik8.REAL_SIZE}" in note
    shown = " ".join(built.output.split())
    assert f"note: {note}" in shown
    stats = CliRunner().invoke(main, ["stats", str(out)])
    assert stats.exit_code == 0 and f"note: {note}" in " ".join(stats.output.split())


def test_the_real_size_has_no_note() -> None:
    ranges = split_ranges(enwik8.REAL_SIZE, "paper")
    assert enwik8.split_notes(enwik8.REAL_SIZE, ranges) == []
