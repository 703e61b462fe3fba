"""Wikipedia dumps: pages in, split by page, redirects counted, any schema, bz2, UTF-16, cut."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import numpy as np
import pytest

from graves_data.corpora import CORPORA, wikipedia
from graves_data.corpora.wikipedia import WikipediaParams, page_split
from graves_data.errors import BadInput, NotACorpus
from graves_data.pipelines.runner import Execution
from graves_data.shards import open_dataset
from graves_data.synth.text import DumpSynthParams, WikiPage, write_dump
from graves_data.vocab import Vocab
from tests.conftest import shared_sample

ONE = Execution(workers=1, progress=False)
TWO = Execution(workers=2, progress=False)
PAGES = 160
SMALL = 0.02  # million symbols: several scan units and shards even on a small dump


def split_text(out: Path, split: str) -> str:
    vocab = Vocab.from_json(json.loads((out / "vocab.json").read_text()))
    table = open_dataset(str(out)).table(split)
    seq_len = table.schema.field("ids").type.list_size
    ids = table.column("ids").combine_chunks().flatten().to_numpy().reshape(-1, seq_len)
    lengths = table.column("length").to_numpy()
    return vocab.decode(ids[np.arange(seq_len)[None, :] < lengths[:, None]])


def rows(out: Path, split: str) -> dict[str, list]:
    table = open_dataset(str(out)).table(split)
    return {name: table.column(name).to_pylist() for name in ("ids", "offset", "length")}


def articles(pages: tuple[WikiPage, ...]) -> list[WikiPage]:
    return [p for p in pages if p.ns == 0 and p.redirect is None]


def expected_text(pages: list[WikiPage], split: str, params: WikipediaParams) -> str:
    """Each article of `split`, in file order: title, blank line, wikitext, blank line."""
    chosen = [
        p
        for p in pages
        if page_split(str(p.page_id), params.seed, params.valid_fraction, params.test_fraction)
        == split
    ]
    return "".join(f"{p.title}\n\n{p.text.strip()}\n\n" for p in chosen)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, tuple[WikiPage, ...]]:
    folder = tmp_path_factory.mktemp("wiki-raw")
    files = write_dump(folder, DumpSynthParams(pages=PAGES, seed=11, pages_per_stream=10))
    assert files.index is not None
    return files.dump, files.index, files.pages


@pytest.fixture(scope="module")
def indexed(
    dump: tuple[Path, Path, tuple[WikiPage, ...]], tmp_path_factory: pytest.TempPathFactory
):
    path, index, _ = dump
    out = tmp_path_factory.mktemp("wiki-out") / "indexed"
    params = WikipediaParams(
        index=str(index), shard_mb=SMALL, valid_fraction=0.1, test_fraction=0.1
    )
    return out, dict(wikipedia.build(str(path), str(out), params, execution=TWO)), params


def test_registered() -> None:
    assert CORPORA["wikipedia"] is wikipedia.SPEC


def test_splits_hold_each_article_once_in_file_order(dump, indexed) -> None:
    _, _, pages = dump
    out, manifest, params = indexed
    wanted = articles(pages)
    assert manifest["text"]["scan_units"] > 1
    assert sum(manifest["text"]["pages"].values()) == len(wanted)
    for split in ("train", "valid", "test"):
        assert split_text(out, split) == expected_text(wanted, split, params)
        assert manifest["splits"][split]["symbols"] == len(expected_text(wanted, split, params))
    assert len(manifest["splits"]["train"]["files"]) > 1


def test_page_split_is_a_seeded_partition() -> None:
    keys = [str(i) for i in range(4000)]
    splits = [page_split(k, 0, 0.1, 0.05) for k in keys]
    assert splits == [page_split(k, 0, 0.1, 0.05) for k in keys]
    assert set(splits) == {"train", "valid", "test"}
    assert 0.08 < splits.count("valid") / 4000 < 0.12
    assert splits != [page_split(k, 1, 0.1, 0.05) for k in keys]


def test_redirects_and_other_namespaces_are_counted(dump, indexed) -> None:
    _, _, pages = dump
    _, manifest, _ = indexed
    redirects = sum(1 for p in pages if p.ns == 0 and p.redirect is not None)
    assert redirects > 0
    assert manifest["text"]["redirects"] == redirects
    assert manifest["text"]["skipped"]["namespace"] == sum(1 for p in pages if p.ns != 0)
    assert manifest["quarantine"] == []


def test_index_and_worker_count_do_not_change_the_rows(dump, indexed, tmp_path: Path) -> None:
    path, _, _ = dump
    out, manifest, params = indexed
    without = WikipediaParams(
        shard_mb=SMALL, valid_fraction=params.valid_fraction, test_fraction=params.test_fraction
    )
    plain = wikipedia.build(str(path), str(tmp_path / "plain"), without, execution=ONE)
    assert plain["text"]["scan_units"] == 1
    for split in ("train", "valid", "test"):
        assert rows(tmp_path / "plain", split) == rows(out, split)
    one = wikipedia.build(str(path), str(tmp_path / "one"), params, execution=ONE)
    assert one["content_hash"] == manifest["content_hash"]
    assert not (out.parent / f".{out.name}.build" / "wikipedia").exists()  # scratch removed


@pytest.mark.parametrize("schema", ["0.3", "0.5", "0.8", "0.11"])
def test_export_schema_versions(schema: str, tmp_path: Path) -> None:
    files = write_dump(
        tmp_path / "raw", DumpSynthParams(pages=40, seed=2, schema=schema, compression="none")
    )
    params = WikipediaParams(valid_fraction=0, test_fraction=0)
    manifest = wikipedia.build(str(files.dump), str(tmp_path / "ds"), params, execution=ONE)
    assert manifest["text"]["export_version"] == schema
    assert split_text(tmp_path / "ds", "train") == expected_text(
        articles(files.pages), "train", params
    )
    assert manifest["text"]["redirects"] == sum(1 for p in files.pages if p.redirect)


def test_utf16_with_bom_reads_like_utf8(tmp_path: Path) -> None:
    params = WikipediaParams(valid_fraction=0, test_fraction=0, shard_mb=0.01)
    texts = []
    for encoding in ("utf-8", "utf-16"):
        files = write_dump(
            tmp_path / encoding,
            DumpSynthParams(pages=60, seed=4, encoding=encoding, compression="none"),
        )
        if encoding == "utf-16":
            assert files.dump.read_bytes()[:2] == b"\xff\xfe"
        manifest = wikipedia.build(
            str(files.dump), str(tmp_path / f"ds-{encoding}"), params, execution=ONE
        )
        assert manifest["text"]["scan_units"] > 1  # byte ranges cut at <page>, 2-byte aligned
        texts.append(split_text(tmp_path / f"ds-{encoding}", "train"))
        assert texts[-1] == expected_text(articles(files.pages), "train", params)
    assert texts[0] == texts[1]
    assert manifest["text"]["encoding"] == "utf-16-le"


def test_a_dump_cut_mid_page_quarantines_that_page(tmp_path: Path) -> None:
    files = write_dump(
        tmp_path / "raw", DumpSynthParams(pages=30, seed=6, compression="bz2", cut=True)
    )
    params = WikipediaParams(valid_fraction=0, test_fraction=0)
    manifest = wikipedia.build(str(files.dump), str(tmp_path / "ds"), params, execution=ONE)
    assert [q["code"] for q in manifest["quarantine"]] == ["truncated-page"]
    whole = [p for p in articles(files.pages) if p is not files.pages[-1]]
    assert split_text(tmp_path / "ds", "train") == expected_text(whole, "train", params)
    with pytest.raises(BadInput, match="ends inside"):
        wikipedia.build(
            str(files.dump), str(tmp_path / "ds2"), params, execution=ONE, on_bad_input="error"
        )


def test_damaged_pages_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    files = write_dump(tmp_path / "raw", DumpSynthParams(pages=12, seed=8, compression="none"))
    data = files.dump.read_bytes()
    first = data.index(b"<text")
    second = data.index(b"<text", data.index(b"</page>") + 1)
    damaged = data[:first] + b"<x>&undefined;</x>" + data[first:second] + b"\xff" + data[second:]
    files.dump.write_bytes(damaged)
    params = WikipediaParams(valid_fraction=0, test_fraction=0)
    manifest = wikipedia.build(str(files.dump), str(tmp_path / "ds"), params, execution=ONE)
    assert sorted(q["code"] for q in manifest["quarantine"]) == ["bad-encoding", "malformed-page"]
    assert manifest["text"]["pages"]["train"] == len(articles(files.pages[2:]))


def test_plain_text_has_no_markup(dump, tmp_path: Path) -> None:
    path, _, _ = dump
    params = WikipediaParams(text="plain", valid_fraction=0, test_fraction=0)
    wikipedia.build(str(path), str(tmp_path / "ds"), params, execution=ONE)
    text = split_text(tmp_path / "ds", "train")
    for markup in ("[[", "{{", "{|", "<ref", "'''", "Category:"):
        assert markup not in text
    assert "São Paulo" in text or "Zürich" in text or "東京" in text


def test_real_multistream_sample(tmp_path: Path) -> None:
    from lxml import etree

    path = shared_sample("wiki-sample") / "enwiki-table-markup.xml.bz2"
    root = etree.fromstring(
        bz2.decompress(path.read_bytes()), etree.XMLParser(resolve_entities=False)
    )
    pages = [
        (p.findtext("{*}title"), p.find("{*}revision/{*}text").text or "")
        for p in root.iter("{*}page")
    ]
    params = WikipediaParams(valid_fraction=0, test_fraction=0)
    manifest = wikipedia.build(str(path), str(tmp_path / "ds"), params, execution=ONE)
    assert manifest["text"]["pages"] == {"train": len(pages)} == {"train": 5}
    assert split_text(tmp_path / "ds", "train") == "".join(
        f"{title}\n\n{text.strip()}\n\n" for title, text in pages
    )


def test_real_enwik8_head_as_a_dump(tmp_path: Path) -> None:
    path = shared_sample("wiki-sample") / "enwik8.head1e4"
    data = path.read_bytes()
    params = WikipediaParams(valid_fraction=0, test_fraction=0)
    manifest = wikipedia.build(str(path), str(tmp_path / "ds"), params, execution=ONE)
    assert manifest["text"]["export_version"] == "0.3"
    assert manifest["text"]["redirects"] == data.count(b"#REDIRECT") == 6
    assert data.count(b"<page>") == 7 and data.count(b"</page>") == 6
    assert [q["code"] for q in manifest["quarantine"]] == ["truncated-page"]


def test_clear_errors(dump, tmp_path: Path) -> None:
    path, _, _ = dump
    (tmp_path / "not.xml").write_text("<html><body>hello</body></html>")
    with pytest.raises(NotACorpus, match="MediaWiki"):
        wikipedia.build(str(tmp_path / "not.xml"), str(tmp_path / "ds"), execution=ONE)
    other = write_dump(tmp_path / "other", DumpSynthParams(pages=60, seed=1, pages_per_stream=7))
    params = WikipediaParams(index=str(other.index), shard_mb=0.001)
    with pytest.raises(NotACorpus, match="bz2 stream"):
        wikipedia.build(str(path), str(tmp_path / "ds"), params, execution=ONE)


def test_an_interrupted_build_completes_to_the_same_bytes(dump, tmp_path: Path) -> None:
    path, index, _ = dump
    params = WikipediaParams(index=str(index), shard_mb=SMALL)
    first = wikipedia.build(str(path), str(tmp_path / "ds"), params, execution=ONE)
    # as a kill would leave it: no manifest, a shard gone, a scan's scratch piece half there
    (tmp_path / "ds" / "manifest.json").unlink()
    (tmp_path / "ds" / first["splits"]["train"]["files"][0]["path"]).unlink()
    scratch = tmp_path / ".ds.build" / "wikipedia"
    scratch.mkdir(parents=True)
    (scratch / "00000-0000.train.txt").write_text("partial")
    again = wikipedia.build(str(path), str(tmp_path / "ds"), params, execution=ONE)
    assert again["content_hash"] == first["content_hash"]
    assert not scratch.exists()
