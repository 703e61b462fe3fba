"""Bad text input (enwik8, Penn Treebank, Wikipedia dumps): each case gives a clear error, a
quarantine entry, or a documented reading, and nothing else in the dataset changes.

Text rows are fixed-length chunks of one symbol stream per split, so "nothing else changed" is
checked on the decoded streams: a byte replaced in place changes that byte's symbol only; a
quarantined page removes exactly one contiguous piece (the page) from its split's stream.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from graves_data.corpora import enwik8, ptb, wikipedia
from graves_data.errors import NotACorpus
from graves_data.pipelines.runner import Execution
from graves_data.synth.text import (
    DumpSynthParams,
    Enwik8SynthParams,
    PtbSynthParams,
    write_dump,
    write_enwik8,
    write_ptb,
)
from graves_data.verify import verify

QUIET = Execution(workers=1, progress=False)
E8 = enwik8.Enwik8Params(seq_len=100)
PTB = ptb.PtbParams(seq_len=100)
WIKI = wikipedia.WikipediaParams(seq_len=100, shard_mb=0.01)


def streams(out: Path) -> dict[str, list[str]]:
    """Each split's symbols, decoded from its rows with the dataset's own vocab.json."""
    manifest = json.loads((out / "manifest.json").read_text())
    vocab = json.loads((out / "vocab.json").read_text())
    symbols = [s["symbol"] for s in vocab["symbols"]]
    found: dict[str, list[str]] = {}
    for split, entry in manifest["splits"].items():
        decoded: list[str] = []
        for item in entry["files"]:
            table = pq.read_table(out / item["path"])
            for ids, length in zip(
                table["ids"].to_pylist(), table["length"].to_pylist(), strict=True
            ):
                decoded.extend(symbols[i] for i in ids[:length])
        found[split] = decoded
    return found


def manifest(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "manifest.json").read_text()))


def one_piece_removed(clean: list[str], damaged: list[str]) -> list[str]:
    """The contiguous piece of `clean` that `damaged` lacks; fails if it lacks anything else."""
    prefix = 0
    while prefix < len(damaged) and damaged[prefix] == clean[prefix]:
        prefix += 1
    suffix = len(damaged) - prefix
    assert clean[len(clean) - suffix :] == damaged[prefix:], "more than one piece differs"
    return clean[prefix : len(clean) - suffix]


# ---------------------------------------------------------------------------------------------
# enwik8: bytes, read as bytes


@pytest.fixture(scope="module")
def enwik8_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("enwik8") / "raw"
    write_enwik8(folder, Enwik8SynthParams(size=20_000, seed=1))
    return folder


@pytest.fixture(scope="module")
def enwik8_clean(enwik8_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("enwik8-clean") / "ds"
    enwik8.build(str(enwik8_raw), str(out), E8, execution=QUIET)
    return out


def damaged_enwik8(raw: Path, tmp_path: Path, damage: Callable[[bytes], bytes]) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    (copy / "enwik8").write_bytes(damage((copy / "enwik8").read_bytes()))
    out = tmp_path / "ds"
    enwik8.build(str(copy), str(out), E8, execution=QUIET)
    return out


@pytest.mark.parametrize(
    ("case", "where", "bad"),
    [
        ("invalid UTF-8 in valid", 19_500, b"\xff\xfe\xc3"),
        ("NUL byte in train", 500, b"\x00"),
        ("invalid UTF-8 in train", 7_000, b"\xc3\x28\xa0"),
    ],
)
def test_enwik8_is_bytes_so_any_byte_is_a_symbol(
    enwik8_raw: Path, enwik8_clean: Path, tmp_path: Path, case: str, where: int, bad: bytes
) -> None:
    """The paper models enwik8 byte by byte: invalid UTF-8 and NUL are bytes like others. In
    train they get ids; in valid, a byte train never showed becomes <unk> and is counted."""
    out = damaged_enwik8(enwik8_raw, tmp_path, lambda d: d[:where] + bad + d[where + len(bad) :])
    clean, damaged = streams(enwik8_clean), streams(out)
    split = "train" if where < 19_200 else "valid"
    offset = where if split == "train" else where - 19_200
    known = set(damaged["train"])
    expected = [chr(b) if chr(b) in known else "<unk>" for b in bad]
    assert damaged[split][offset : offset + len(bad)] == expected
    patched = clean[split][:offset] + expected + clean[split][offset + len(bad) :]
    assert damaged[split] == patched
    for other in clean.keys() - {split}:
        assert damaged[other] == clean[other]
    assert manifest(out)["quarantine"] == []
    assert manifest(out)["splits"]["valid"]["unknown"] == (
        expected.count("<unk>") if split == "valid" else 0
    )
    assert verify(out).ok


def test_an_empty_enwik8_is_a_clear_error(enwik8_raw: Path, tmp_path: Path) -> None:
    with pytest.raises(NotACorpus, match="empty file"):
        damaged_enwik8(enwik8_raw, tmp_path, lambda d: b"")


def test_enwik8_shorter_than_one_sequence(enwik8_raw: Path, tmp_path: Path) -> None:
    out = damaged_enwik8(enwik8_raw, tmp_path, lambda d: d[:50])
    found = streams(out)
    raw = (enwik8_raw / "enwik8").read_bytes()[:50].decode("latin-1")
    assert "".join(found["train"] + found["valid"]) == raw
    splits = manifest(out)["splits"]
    assert (splits["train"]["rows"], splits["valid"]["rows"]) == (1, 1)  # one short row each
    assert verify(out).ok


def test_enwik8_cut_mid_page_is_read_to_its_last_byte(enwik8_raw: Path, tmp_path: Path) -> None:
    """enwik8 is cut mid-page by construction; cutting it again anywhere (mid-tag, mid-UTF-8
    sequence) loses nothing: it is never parsed as XML."""
    data = (enwik8_raw / "enwik8").read_bytes()
    cut = data.index(b"</page>", 10_000) - 3
    out = damaged_enwik8(enwik8_raw, tmp_path, lambda d: d[:cut])
    found = streams(out)
    assert "".join(found["train"] + found["valid"]).encode("latin-1") == data[:cut]


# ---------------------------------------------------------------------------------------------
# Penn Treebank: one text file per split


@pytest.fixture(scope="module")
def ptb_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ptb") / "raw"
    write_ptb(folder, PtbSynthParams(lines=200, vocab=100, seed=1))
    return folder


@pytest.fixture(scope="module")
def ptb_clean(ptb_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ptb-clean") / "ds"
    ptb.build(str(ptb_raw), str(out), PTB, execution=QUIET)
    return out


def damaged_ptb(raw: Path, tmp_path: Path, split: str, damage: Callable[[bytes], bytes]) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    for path in copy.glob(f"ptb*.{split}.txt"):
        path.write_bytes(damage(path.read_bytes()))
    out = tmp_path / "ds"
    ptb.build(str(copy), str(out), PTB, execution=QUIET)
    return out


def test_ptb_invalid_utf8_is_a_clear_error_naming_the_file(ptb_raw: Path, tmp_path: Path) -> None:
    with pytest.raises(NotACorpus, match=r"ptb\.char\.valid\.txt: not UTF-8 text"):
        damaged_ptb(ptb_raw, tmp_path, "valid", lambda d: d[:100] + b"\xff" + d[101:])


def test_ptb_empty_training_file_is_a_clear_error(ptb_raw: Path, tmp_path: Path) -> None:
    with pytest.raises(NotACorpus, match="training file is empty"):
        damaged_ptb(ptb_raw, tmp_path, "train", lambda d: b"")


def test_ptb_nul_in_valid_is_counted_as_unknown(
    ptb_raw: Path, ptb_clean: Path, tmp_path: Path
) -> None:
    """A NUL is read as the character U+0000: never in train, so an <unk> of valid, counted
    in the manifest's `unknown` (and in stats): visible, not dropped. Every other symbol stays."""
    out = damaged_ptb(ptb_raw, tmp_path, "valid", lambda d: d[:100] + b"\x00" + d[101:])
    clean, damaged = streams(ptb_clean), streams(out)
    assert manifest(out)["splits"]["valid"]["unknown"] == 1
    differs = [
        i for i, (a, b) in enumerate(zip(clean["valid"], damaged["valid"], strict=True)) if a != b
    ]
    assert len(differs) == 1 and damaged["valid"][differs[0]] == "<unk>"
    assert (damaged["train"], damaged["test"]) == (clean["train"], clean["test"])


def test_ptb_empty_or_short_valid_file(ptb_raw: Path, ptb_clean: Path, tmp_path: Path) -> None:
    empty = damaged_ptb(ptb_raw, tmp_path / "empty", "valid", lambda d: b"")
    assert manifest(empty)["splits"]["valid"]["rows"] == 0 and verify(empty).ok
    short = damaged_ptb(ptb_raw, tmp_path / "short", "valid", lambda d: d[:30])
    clean, found = streams(ptb_clean), streams(short)
    assert manifest(short)["splits"]["valid"]["rows"] == 1
    assert 0 < len(found["valid"]) < PTB.seq_len
    assert (found["train"], found["test"]) == (clean["train"], clean["test"])


# ---------------------------------------------------------------------------------------------
# Wikipedia dumps: XML, page by page


@pytest.fixture(scope="module")
def wiki_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wiki") / "raw"
    write_dump(folder, DumpSynthParams(pages=30, compression="none"))
    return folder


@pytest.fixture(scope="module")
def wiki_clean(wiki_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wiki-clean") / "ds"
    wikipedia.build(str(wiki_raw), str(out), WIKI, execution=QUIET)
    return out


def damaged_wiki(raw: Path, tmp_path: Path, damage: Callable[[bytes], bytes]) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    dump = next(copy.glob("*.xml"))
    dump.write_bytes(damage(dump.read_bytes()))
    out = tmp_path / "ds"
    wikipedia.build(str(copy), str(out), WIKI, execution=QUIET)
    return out


def into_a_page_text(bad: bytes) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        start = data.index(b"<text", 3000)
        at = data.index(b">", start) + 20
        return data[:at] + bad + data[at + len(bad) :]

    return damage


def page_at(data: bytes, offset: int) -> str:
    start = data.index(b"<title>", offset) + len(b"<title>")
    return data[start : data.index(b"</title>", start)].decode()


@pytest.mark.parametrize(
    ("case", "bad", "code"),
    [("invalid UTF-8", b"\xff\xfe", "bad-encoding"), ("NUL byte", b"\x00", "malformed-page")],
)
def test_a_damaged_page_is_quarantined_alone(
    wiki_raw: Path, wiki_clean: Path, tmp_path: Path, case: str, bad: bytes, code: str
) -> None:
    out = damaged_wiki(wiki_raw, tmp_path, into_a_page_text(bad))
    [entry] = manifest(out)["quarantine"]
    dump = next(wiki_raw.glob("*.xml"))
    offset = int(entry["source"].rsplit("@", 1)[1])
    assert entry["source"] == f"{dump.name}@{offset}" and entry["code"] == code
    title = page_at(dump.read_bytes(), offset)
    clean, damaged = streams(wiki_clean), streams(out)
    changed = [s for s in clean if clean[s] != damaged[s]]
    assert len(changed) == 1
    removed = "".join(one_piece_removed(clean[changed[0]], damaged[changed[0]]))
    assert removed.startswith(title)  # the page's segment starts with its title line
    assert verify(out).ok


def test_an_empty_dump_is_a_clear_error(wiki_raw: Path, tmp_path: Path) -> None:
    with pytest.raises(NotACorpus, match="empty file"):
        damaged_wiki(wiki_raw, tmp_path, lambda d: b"")


def test_a_dump_without_pages_builds_an_empty_dataset(wiki_raw: Path, tmp_path: Path) -> None:
    """Documented reading: a dump of no pages is an empty dataset (every split 0 rows, no
    vocabulary beyond <unk>), visible in the manifest and in stats; nothing fails."""
    out = damaged_wiki(wiki_raw, tmp_path, lambda d: d[: d.index(b"<page>")] + b"</mediawiki>")
    assert {s: e["rows"] for s, e in manifest(out)["splits"].items()} == {
        "train": 0,
        "valid": 0,
        "test": 0,
    }
    assert verify(out).ok


def test_a_dump_shorter_than_one_sequence(wiki_raw: Path, tmp_path: Path) -> None:
    page = (
        b"<page><title>Tiny</title><ns>0</ns><id>7</id><revision><id>8</id>"
        b"<text>Hi.</text></revision></page></mediawiki>"
    )
    out = damaged_wiki(wiki_raw, tmp_path, lambda d: d[: d.index(b"<page>")] + page)
    found = streams(out)
    assert "".join(found["train"] + found["valid"] + found["test"]).startswith("Tiny")
    assert sum(e["rows"] for e in manifest(out)["splits"].values()) == 1


def test_a_dump_cut_mid_page_loses_that_page_only(tmp_path: Path) -> None:
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    write_dump(whole, DumpSynthParams(pages=30, compression="none"))
    write_dump(cut, DumpSynthParams(pages=30, compression="none", cut=True))
    outs = {}
    for name, folder in (("whole", whole), ("cut", cut)):
        outs[name] = tmp_path / f"{name}-ds"
        wikipedia.build(str(folder), str(outs[name]), WIKI, execution=QUIET)
    [entry] = manifest(outs["cut"])["quarantine"]
    assert entry["code"] == "truncated-page" and "ends inside this page" in entry["reason"]
    clean, damaged = streams(outs["whole"]), streams(outs["cut"])
    changed = [s for s in clean if clean[s] != damaged[s]]
    assert len(changed) <= 1  # the last page may have been left out of every split anyway
    for split in changed:
        removed = one_piece_removed(clean[split], damaged[split])
        assert damaged[split] == clean[split][: len(clean[split]) - len(removed)]  # the tail
    assert verify(outs["cut"]).ok
