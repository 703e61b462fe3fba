"""`graves-data verify`: an intact dataset passes; each kind of damage is named exactly."""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.errors import InputNotFound
from graves_data.pipelines.runner import (
    BadInputPolicy,
    BuildJob,
    Execution,
    Unit,
    UnitContext,
    UnitInput,
    UnitRows,
    run_build,
)
from graves_data.schema import text_schema
from graves_data.shards import (
    MANIFEST_DIGEST,
    ShardInfo,
    content_hash,
    manifest_digest,
    sha256_hex,
    shard_path,
)
from graves_data.storage import resolve
from graves_data.verify import Problem, text_id_type, verify
from graves_data.vocab import build_vocab, count_symbols

MANIFEST = "manifest.json"


def codes(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.code, p.path) for p in problems}


def first_shard(root: Path, split: str = "train") -> str:
    manifest = json.loads((root / MANIFEST).read_text())
    return str(manifest["splits"][split]["files"][0]["path"])


def edit_manifest(root: Path, change: Any) -> None:
    path = root / MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def reseal(root: Path, rel: str) -> None:
    """Record a replaced shard's size and sha256, and the content hash, as a forger would."""
    data = (root / rel).read_bytes()

    def change(manifest: dict[str, Any]) -> None:
        shards = []
        for entry in manifest["splits"].values():
            for item in entry["files"]:
                if item["path"] == rel:
                    item.update(bytes=len(data), sha256=sha256_hex(data))
                shards.append(ShardInfo.from_json(item))
        manifest["content_hash"] = content_hash(shards, manifest["vocab"]["sha256"])
        manifest[MANIFEST_DIGEST] = manifest_digest(manifest)

    edit_manifest(root, change)


# ---------------------------------------------------------------------------------------------
# intact


def test_a_fresh_build_is_intact(clean_dataset: Path) -> None:
    report = verify(clean_dataset)
    manifest = json.loads((clean_dataset / MANIFEST).read_text())
    assert report.ok, report.problems
    assert report.content_hash == manifest["content_hash"]
    assert report.rows == sum(s["rows"] for s in manifest["splits"].values())
    assert report.shards == sum(len(s["files"]) for s in manifest["splits"].values())


def test_cli_exit_0_when_intact_and_1_when_not(dataset_copy: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", str(dataset_copy)])
    assert ok.exit_code == 0 and "intact" in ok.output
    as_json = runner.invoke(main, ["verify", str(dataset_copy), "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["ok"] is True
    (dataset_copy / "data" / "stray.parquet").write_bytes(b"x")
    bad = runner.invoke(main, ["verify", str(dataset_copy), "--json"])
    assert bad.exit_code == 1
    found = json.loads(bad.output)
    assert found["ok"] is False
    assert found["problems"] == [
        {
            "code": "extra-file",
            "path": "data/stray.parquet",
            "message": "not part of the dataset (manifest.json does not name it)",
        }
    ]
    text = runner.invoke(main, ["verify", str(dataset_copy)])
    assert text.exit_code == 1 and "data/stray.parquet" in text.output


def test_a_missing_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        verify(tmp_path / "nothing")
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "no such dataset folder" in result.output


# ---------------------------------------------------------------------------------------------
# shards


def test_a_flipped_bit_names_the_shard(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy, "valid")
    data = bytearray((dataset_copy / rel).read_bytes())
    data[len(data) // 2] ^= 0x04
    (dataset_copy / rel).write_bytes(bytes(data))
    report = verify(dataset_copy)
    assert codes(report.problems) == {("shard-checksum", rel)}
    assert "flipped bit" in report.problems[0].message


def test_a_truncated_shard(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)
    size = (dataset_copy / rel).stat().st_size
    os.truncate(dataset_copy / rel, size - 100)
    report = verify(dataset_copy)
    assert codes(report.problems) == {("truncated-shard", rel)}
    assert f"{size - 100} of {size} bytes" in report.problems[0].message


def test_bytes_appended_to_a_shard(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)
    with open(dataset_copy / rel, "ab") as handle:
        handle.write(b"\0")
    assert codes(verify(dataset_copy).problems) == {("shard-size", rel)}


def test_a_missing_shard(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)
    (dataset_copy / rel).unlink()
    report = verify(dataset_copy)
    assert codes(report.problems) == {("missing-shard", rel)}


def test_a_shard_from_another_build(dataset_copy: Path, tmp_path: Path) -> None:
    """Same schema, sealed into the manifest: its metadata still names other parameters."""
    rel = first_shard(dataset_copy)
    table = pq.read_table(dataset_copy / rel)
    meta = dict(table.schema.metadata)
    meta[b"graves_data.params"] = b'{"other":1}'
    pq.write_table(table.replace_schema_metadata(meta), dataset_copy / rel, compression="zstd")
    reseal(dataset_copy, rel)
    assert codes(verify(dataset_copy).problems) == {("shard-metadata", rel)}


def test_a_shard_with_another_schema(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)
    table = pq.read_table(dataset_copy / rel)
    changed = table.drop_columns(["dt"]).replace_schema_metadata(table.schema.metadata)
    pq.write_table(changed, dataset_copy / rel)
    reseal(dataset_copy, rel)
    report = verify(dataset_copy)
    assert codes(report.problems) == {("shard-schema", rel)}
    assert "missing column dt" in report.problems[0].message


def test_a_shard_with_rows_left_out(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)
    table = pq.read_table(dataset_copy / rel)
    pq.write_table(table.slice(1), dataset_copy / rel, compression="zstd")
    reseal(dataset_copy, rel)
    found = codes(verify(dataset_copy).problems)
    assert ("shard-rows", rel) in found
    assert ("manifest-edited", MANIFEST) in found  # the split's point totals no longer add up


@pytest.mark.parametrize("column", ["offsets", "dt"])
def test_a_non_finite_value_is_found_even_in_a_resealed_shard(
    dataset_copy: Path, column: str
) -> None:
    """A time of 1e300 once put `inf` into `dt` and verify called the dataset intact: the
    checksums matched, since the build itself wrote it. verify now reads the values."""
    rel = first_shard(dataset_copy)
    table = pq.read_table(dataset_copy / rel)
    rows = table.column(column).to_pylist()
    row = next(i for i, value in enumerate(rows) if value)
    if column == "offsets":
        rows[row][0][0] = math.inf
    else:
        rows[row][0] = math.nan
    index = table.schema.get_field_index(column)
    field = table.schema.field(index)
    damaged = table.set_column(index, field, pa.array(rows, type=field.type))
    pq.write_table(damaged, dataset_copy / rel, compression="zstd")
    reseal(dataset_copy, rel)
    report = verify(dataset_copy)
    assert ("non-finite", rel) in codes(report.problems)
    (problem,) = [p for p in report.problems if p.code == "non-finite"]
    assert f"column {column} holds 1 NaN or infinite value(s)" in problem.message


# ---------------------------------------------------------------------------------------------
# the manifest, the vocabulary, files nobody listed


def test_a_hand_edited_checksum_breaks_the_content_hash(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)

    def change(manifest: dict[str, Any]) -> None:
        manifest["splits"]["train"]["files"][0]["sha256"] = "0" * 64

    edit_manifest(dataset_copy, change)
    report = verify(dataset_copy)
    assert codes(report.problems) == {("manifest-edited", MANIFEST), ("shard-checksum", rel)}
    edited = next(p for p in report.problems if p.code == "manifest-edited")
    assert "content_hash" in edited.message and "edited" in edited.message


def test_hand_edited_row_counts(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)

    def change(manifest: dict[str, Any]) -> None:
        manifest["splits"]["train"]["files"][0]["rows"] += 1

    edit_manifest(dataset_copy, change)
    report = verify(dataset_copy)
    assert codes(report.problems) == {("manifest-edited", MANIFEST), ("shard-rows", rel)}
    assert any("splits.train.rows says" in p.message for p in report.problems)


def test_hand_edited_totals(dataset_copy: Path) -> None:
    def change(manifest: dict[str, Any]) -> None:
        manifest["splits"]["valid"]["points"] -= 5

    edit_manifest(dataset_copy, change)
    report = verify(dataset_copy)
    assert codes(report.problems) == {("manifest-edited", MANIFEST)}
    assert any("splits.valid.points" in p.message for p in report.problems)


def test_a_manifest_that_is_not_json(dataset_copy: Path) -> None:
    (dataset_copy / MANIFEST).write_text('{"schema_version": "1.0",')
    assert codes(verify(dataset_copy).problems) == {("manifest-unreadable", MANIFEST)}


def test_no_manifest_unfinished_or_not_a_dataset(dataset_copy: Path, tmp_path: Path) -> None:
    (dataset_copy / MANIFEST).unlink()
    assert codes(verify(dataset_copy).problems) == {("no-manifest", MANIFEST)}
    (dataset_copy.parent / f".{dataset_copy.name}.build").mkdir()  # a build's records
    assert codes(verify(dataset_copy).problems) == {("unfinished-build", MANIFEST)}
    (tmp_path / "empty").mkdir()
    assert codes(verify(tmp_path / "empty").problems) == {("no-manifest", MANIFEST)}


def test_an_edited_vocabulary(dataset_copy: Path) -> None:
    vocab = json.loads((dataset_copy / "vocab.json").read_text())
    vocab["symbols"][3]["symbol"], vocab["symbols"][4]["symbol"] = (
        vocab["symbols"][4]["symbol"],
        vocab["symbols"][3]["symbol"],
    )
    (dataset_copy / "vocab.json").write_text(json.dumps(vocab, indent=1) + "\n")
    assert codes(verify(dataset_copy).problems) == {("vocab-edited", "vocab.json")}


def test_a_missing_vocabulary(dataset_copy: Path) -> None:
    (dataset_copy / "vocab.json").unlink()
    assert codes(verify(dataset_copy).problems) == {("missing-vocab", "vocab.json")}


def test_extra_files_at_the_top_under_data_and_links(dataset_copy: Path, tmp_path: Path) -> None:
    (dataset_copy / "notes.txt").write_text("mine")
    (dataset_copy / "data" / "train-00000-of-00003.parquet.tmp-1a2b3c4d").write_bytes(b"half")
    (tmp_path / "elsewhere.parquet").write_bytes(b"x")
    (dataset_copy / "data" / "linked.parquet").symlink_to(tmp_path / "elsewhere.parquet")
    (dataset_copy / ".build" / "units").mkdir(parents=True)  # as graves-data 0.1 left it
    (dataset_copy / ".build" / "units" / "scratch.json").write_text("{}")  # ignored
    report = verify(dataset_copy)
    assert codes(report.problems) == {
        ("extra-file", "notes.txt"),
        ("extra-file", "data/train-00000-of-00003.parquet.tmp-1a2b3c4d"),
        ("extra-file", "data/linked.parquet"),
    }
    messages = {p.path: p.message for p in report.problems}
    assert "temporary file" in messages["data/train-00000-of-00003.parquet.tmp-1a2b3c4d"]
    assert "symbolic link" in messages["data/linked.parquet"]


def test_a_renamed_shard_is_missing_plus_extra(dataset_copy: Path) -> None:
    rel = first_shard(dataset_copy)
    (dataset_copy / rel).rename(dataset_copy / "data" / "renamed.parquet")
    assert codes(verify(dataset_copy).problems) == {
        ("missing-shard", rel),
        ("extra-file", "data/renamed.parquet"),
    }


# ---------------------------------------------------------------------------------------------
# fsspec URLs, and text datasets


def test_verify_through_an_fsspec_url(clean_dataset: Path) -> None:
    fs = fsspec.filesystem("memory")
    target = f"/verify-{os.getpid()}"
    try:
        for path in clean_dataset.rglob("*"):
            if path.is_file():
                fs.pipe_file(f"{target}/{path.relative_to(clean_dataset)}", path.read_bytes())
        assert verify(f"memory://{target}").ok
        rel = first_shard(clean_dataset)
        data = bytearray(fs.cat_file(f"{target}/{rel}"))
        data[100] ^= 1
        fs.pipe_file(f"{target}/{rel}", bytes(data))
        assert codes(verify(f"memory://{target}").problems) == {("shard-checksum", rel)}
    finally:
        fs.rm(target, recursive=True)


SEQ_LEN = 8
TEXT = {"train": "the quick brown fox jumps over the lazy dog " * 5, "valid": "a lazy fox."}


@dataclass(frozen=True)
class ToyParams:
    seq_len: int = SEQ_LEN


def toy_text_unit(
    unit: Unit, _inputs: UnitInput, ctx: UnitContext[ToyParams], _bad: BadInputPolicy
) -> UnitRows:
    """One split's text as rows of SEQ_LEN ids (the last row padded), as text builds write."""
    ids = ctx.vocab.encode(unit.payload)
    rows = [ids[i : i + SEQ_LEN] for i in range(0, len(ids), SEQ_LEN)]
    padded = [list(r) + [0] * (SEQ_LEN - len(r)) for r in rows]
    flat = pa.array([i for r in padded for i in r], pa.uint8())
    table = pa.table(
        {
            "ids": pa.FixedSizeListArray.from_arrays(flat, SEQ_LEN),
            "offset": pa.array([SEQ_LEN * i for i in range(len(rows))], pa.int64()),
            "length": pa.array([len(r) for r in rows], pa.int32()),
        }
    )
    return UnitRows(table, row_group_rows=256, totals={"symbols": len(ids)})


@pytest.fixture
def text_dataset(tmp_path: Path) -> Path:
    raw = tmp_path / "text-raw"
    raw.mkdir()
    vocab = build_vocab(count_symbols([TEXT["train"]]))
    units = [
        Unit(split, split, shard_path(split, 0, 1), (), TEXT[split]) for split in ("train", "valid")
    ]
    job = BuildJob(
        corpus="toy-text",
        params=ToyParams(),
        raw=resolve(raw),
        out=resolve(tmp_path / "text"),
        schema=text_schema(SEQ_LEN, text_id_type(len(vocab))),
        vocab=vocab,
        units=units,
        unit_count=len(units),
        splits=("train", "valid"),
        process=toy_text_unit,
    )
    run_build(job, Execution(workers=1, progress=False))
    return tmp_path / "text"


def test_a_text_dataset_is_checked_against_the_text_schema(text_dataset: Path) -> None:
    manifest = json.loads((text_dataset / MANIFEST).read_text())
    assert manifest["kind"] == "text"
    assert verify(text_dataset).ok
    rel = "data/valid-00000-of-00001.parquet"
    table = pq.read_table(text_dataset / rel)
    wider = table.cast(text_schema(SEQ_LEN, pa.uint16()).with_metadata(table.schema.metadata))
    pq.write_table(wider, text_dataset / rel)
    reseal(text_dataset, rel)
    report = verify(text_dataset)
    assert codes(report.problems) == {("shard-schema", rel)}
    assert "uint16" in report.problems[0].message


def test_text_symbols_total_and_ids_beyond_the_vocabulary(text_dataset: Path) -> None:
    edit_manifest(text_dataset, lambda m: m["splits"]["valid"].update(symbols=3))
    assert any("splits.valid.symbols" in p.message for p in verify(text_dataset).problems)
    edit_manifest(text_dataset, lambda m: m["splits"]["valid"].update(symbols=len(TEXT["valid"])))
    rel = "data/train-00000-of-00001.parquet"
    table = pq.read_table(text_dataset / rel)
    flat = pa.array([250] * SEQ_LEN * len(table), pa.uint8())
    ids = pa.FixedSizeListArray.from_arrays(flat, SEQ_LEN).cast(table.schema.field("ids").type)
    pq.write_table(table.set_column(0, table.schema.field("ids"), ids), text_dataset / rel)
    reseal(text_dataset, rel)
    assert ("ids-out-of-vocab", rel) in codes(verify(text_dataset).problems)


def test_text_id_type_follows_the_text_pipeline() -> None:
    from graves_data.pipelines.text import vocab_id_type
    from graves_data.vocab import Vocab

    for size in (2, 256, 257, 65536, 65537):
        symbols = tuple(chr(0x100 + i) for i in range(size))
        vocab = Vocab("char", symbols, (1,) * size)
        assert text_id_type(size) == vocab_id_type(vocab)


def test_verify_leaves_the_dataset_untouched(dataset_copy: Path, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in dataset_copy.rglob("*") if p.is_file()}
    verify(dataset_copy)
    assert {p: p.read_bytes() for p in dataset_copy.rglob("*") if p.is_file()} == before
    shutil.rmtree(dataset_copy)


# ---------------------------------------------------------------------------------------------
# what the content hash does not cover: the manifest's other fields and the dataset card


def _scale_std(manifest: dict[str, Any]) -> None:
    manifest["normalization"]["std"] = [s * 2 for s in manifest["normalization"]["std"]]


def _add_quarantine(manifest: dict[str, Any]) -> None:
    entry = {"source": "lineStrokes/a/a01/a01-000-01.xml", "code": "xml-syntax", "reason": "x"}
    manifest["quarantine"].append(entry)


@pytest.mark.parametrize(
    "edit",
    [
        _scale_std,
        lambda m: m["normalization"]["mean"].__setitem__(0, 0.0),
        lambda m: m["sources"][0].update(sha256="0" * 64),
        lambda m: m["sources"].pop(),
        lambda m: m["writers"].update(train=m["writers"]["train"] + 1),
        _add_quarantine,
        lambda m: m["report"].update(listed_but_absent={}),
        lambda m: m["params"].update(spike_threshold=1.0),
        lambda m: m.update(card={"path": "README.md", "sha256": "0" * 64}),
    ],
    ids=[
        "std",
        "mean",
        "source-sha",
        "source-removed",
        "writers",
        "quarantine",
        "report",
        "params",
        "card-sha",
    ],
)
def test_an_edit_of_any_manifest_field_is_found(dataset_copy: Path, edit: Any) -> None:
    edit_manifest(dataset_copy, edit)
    report = verify(dataset_copy)
    assert ("manifest-edited", MANIFEST) in codes(report.problems)
    assert any(MANIFEST_DIGEST in p.message for p in report.problems)


def test_a_deleted_digest_is_not_intact(dataset_copy: Path) -> None:
    """Removing the digest with an edit is not a way around it: a manifest without one is
    named, not trusted."""

    def change(manifest: dict[str, Any]) -> None:
        del manifest[MANIFEST_DIGEST]
        _scale_std(manifest)

    edit_manifest(dataset_copy, change)
    assert codes(verify(dataset_copy).problems) == {("manifest-unsealed", MANIFEST)}


def test_an_edited_card(dataset_copy: Path) -> None:
    card = dataset_copy / "README.md"
    card.write_text(card.read_text().replace("path: data/valid-*", "path: data/train-*"))
    report = verify(dataset_copy)
    assert codes(report.problems) == {("card-edited", "README.md")}
    assert "load_dataset" in report.problems[0].message


def test_a_deleted_card(dataset_copy: Path) -> None:
    (dataset_copy / "README.md").unlink()
    assert codes(verify(dataset_copy).problems) == {("missing-card", "README.md")}


def test_a_card_the_manifest_does_not_record_is_an_extra_file(dataset_copy: Path) -> None:
    def change(manifest: dict[str, Any]) -> None:
        del manifest["card"]
        manifest[MANIFEST_DIGEST] = manifest_digest(manifest)

    edit_manifest(dataset_copy, change)
    assert codes(verify(dataset_copy).problems) == {("extra-file", "README.md")}


def test_a_skipped_shard_number_is_allowed_but_order_and_count_are_checked(
    dataset_copy: Path,
) -> None:
    """A unit that kept no rows leaves no shard, so numbers may be skipped (see
    test_empty_splits); out of order, beyond the count or two counts are still edits."""
    manifest = json.loads((dataset_copy / MANIFEST).read_text())
    files = manifest["splits"]["train"]["files"]
    assert len(files) >= 3

    def renamed(paths: dict[int, str]) -> list[str]:
        def change(m: dict[str, Any]) -> None:
            for index, path in paths.items():
                m["splits"]["train"]["files"][index]["path"] = path

        target = dataset_copy.parent / f"case{len(list(dataset_copy.parent.iterdir()))}"
        shutil.copytree(dataset_copy, target)
        edit_manifest(target, change)
        return [p.message for p in verify(target).problems if p.code == "manifest-edited"]

    count = len(files)
    swapped = renamed({0: files[1]["path"], 1: files[0]["path"]})
    assert any("out of order" in m for m in swapped), swapped
    beyond = renamed({count - 1: f"data/train-{count:05d}-of-{count:05d}.parquet"})
    assert any("beyond its count" in m for m in beyond), beyond
    counts = renamed({0: f"data/train-00000-of-{count + 1:05d}.parquet"})
    assert any("disagree on their count" in m for m in counts), counts
