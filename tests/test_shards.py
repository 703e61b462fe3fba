"""The shard writer, manifest and reader: the on-disk contract."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graves_data.errors import DatasetError
from graves_data.manifest import write_manifest
from graves_data.schema import SCHEMA_VERSION, file_metadata, text_schema
from graves_data.shards import (
    ShardInfo,
    ShardWriter,
    content_hash,
    open_dataset,
    shard_path,
)
from graves_data.storage import TMP_MARK, remove_stale_temporaries, resolve

SCHEMA = text_schema(4, pa.uint8())


def rows(n: int) -> pa.Table:
    ids = pa.FixedSizeListArray.from_arrays(
        pa.array([i % 200 for i in range(4 * n)], pa.int64()), 4
    )
    return pa.table({"ids": ids, "offset": [4 * i for i in range(n)], "length": [4] * n})


def test_shard_names_follow_the_hub_convention() -> None:
    assert shard_path("train", 0, 4) == "data/train-00000-of-00004.parquet"
    with pytest.raises(ValueError):
        shard_path("train", 4, 4)


def test_writer_casts_to_the_schema_and_stamps_metadata(tmp_path: Path) -> None:
    with ShardWriter(
        resolve(tmp_path), "data/a.parquet", SCHEMA, file_metadata("c", {"p": 1})
    ) as w:
        w.write(rows(3))
    assert w.info is not None and w.info.rows == 3
    table = pq.read_table(tmp_path / "data/a.parquet")
    assert table.schema.field("ids").type == pa.list_(pa.uint8(), 4)  # int64 cast to uint8
    meta = table.schema.metadata
    assert meta[b"graves_data.schema_version"] == SCHEMA_VERSION.encode()
    assert json.loads(meta[b"graves_data.params"]) == {"p": 1}


def test_schema_drift_fails_at_write_time(tmp_path: Path) -> None:
    root = resolve(tmp_path)
    with (
        pytest.raises(ValueError, match="do not fit"),
        ShardWriter(root, "data/a.parquet", SCHEMA, {}) as w,
    ):
        w.write(pa.table({"ids": [[1, 2, 3]], "offset": [0], "length": [3]}))
    assert not (tmp_path / "data/a.parquet").exists()


def test_nothing_is_written_when_the_writer_fails(tmp_path: Path) -> None:
    root = resolve(tmp_path)
    with pytest.raises(RuntimeError), ShardWriter(root, "data/a.parquet", SCHEMA, {}) as w:
        w.write(rows(2))
        raise RuntimeError("killed")
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_same_rows_give_the_same_bytes(tmp_path: Path) -> None:
    infos = []
    for name in ("a", "b"):
        with ShardWriter(resolve(tmp_path), f"{name}.parquet", SCHEMA, file_metadata("c", {})) as w:
            w.write(rows(100))
        infos.append(w.info)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert infos[0] is not None and infos[1] is not None and infos[0].sha256 == infos[1].sha256


def test_content_hash_changes_with_any_shard_or_the_vocab() -> None:
    a = [ShardInfo("data/x.parquet", 1, "0" * 64, 10)]
    b = [ShardInfo("data/x.parquet", 1, "1" * 64, 10)]
    assert content_hash(a, "v") != content_hash(b, "v")
    assert content_hash(a, "v") != content_hash(a, "w")
    assert content_hash(a + b[:0], "v") == content_hash(list(reversed(a)), "v")


def test_open_dataset_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no manifest\.json"):
        open_dataset(tmp_path)
    (tmp_path.parent / f".{tmp_path.name}.build").mkdir()  # a build's records, beside it
    with pytest.raises(DatasetError, match="not finished"):
        open_dataset(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        open_dataset(tmp_path)
    write_manifest(resolve(tmp_path), {"schema_version": "99.0", "corpus": "x", "splits": {}})
    with pytest.raises(DatasetError, match=r"schema version 99\.0"):
        open_dataset(tmp_path)


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    stale = tmp_path / "data" / f"train-00000-of-00001.parquet{TMP_MARK}abcd"
    stale.write_bytes(b"half")
    keep = tmp_path / "data" / "train-00000-of-00001.parquet"
    keep.write_bytes(b"whole")
    assert remove_stale_temporaries(resolve(tmp_path)) == [f"data/{stale.name}"]
    assert keep.exists() and not stale.exists()
