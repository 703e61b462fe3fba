"""Shard writer, manifest and reader: how a dataset goes to disk and comes back.

A dataset folder holds `data/<split>-<i>-of-<n>.parquet` shards, `vocab.json`, a `README.md`
card and `manifest.json`. The manifest is written last and atomically: the dataset exists once
it exists, and it names the sha256 of every shard, so a crash can never leave a manifest that
points at incomplete shards.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from graves_data.errors import DatasetError
from graves_data.schema import SCHEMA_VERSION, canonical_json, schema_major, strict_json
from graves_data.storage import Location, resolve

MANIFEST = "manifest.json"
VOCAB = "vocab.json"
CARD = "README.md"
DATA_DIR = "data"
BUILD_DIR = ".build"  # a dataset built by graves-data 0.1 holds its resume records here
PLAN_FILE = "plan.json"  # in the build records: the identity of the build, and its units
ZSTD_LEVEL = 3
DEFAULT_ROW_GROUP_ROWS = 256
MANIFEST_DIGEST = "manifest_sha256"
# what pyarrow raises on a damaged Parquet file ("magic bytes not found", a corrupt page)
READ_ERRORS = (pa.ArrowException, OSError, ValueError)


def shard_path(split: str, index: int, count: int) -> str:
    """The Hugging Face Hub's shard naming, which it reads as splits."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} outside 0..{count - 1}")
    return f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


@dataclass(frozen=True)
class ShardInfo:
    """What the manifest records of one written shard."""

    path: str
    rows: int
    sha256: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "sha256": self.sha256, "bytes": self.bytes}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ShardInfo:
        return ShardInfo(
            str(data["path"]), int(data["rows"]), str(data["sha256"]), int(data["bytes"])
        )


class ShardWriter:
    """Collects record batches for one shard, cast to the schema, and writes it atomically.

    Use as a context manager: on a clean exit the shard is encoded (zstd, row groups of
    `row_group_rows`), hashed and written under its final name in one atomic step; on an
    exception nothing is written. A batch whose columns do not fit the schema fails here, at
    write time, and not later in training.
    """

    def __init__(
        self,
        root: Location,
        rel_path: str,
        schema: pa.Schema,
        metadata: Mapping[bytes, bytes],
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    ) -> None:
        self.root = root
        self.rel_path = rel_path
        self.schema = schema.with_metadata(dict(metadata))
        self.row_group_rows = row_group_rows
        self._tables: list[pa.Table] = []
        self.info: ShardInfo | None = None

    def __enter__(self) -> ShardWriter:
        return self

    def write(self, table: pa.Table) -> None:
        try:
            cast = table.select(self.schema.names).cast(self.schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"{self.rel_path}: rows do not fit the shard schema: {exc}") from exc
        self._tables.append(cast)

    def write_rows(self, rows: Mapping[str, Sequence[Any]]) -> None:
        self.write(pa.table(dict(rows)))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.info = self._finalize()

    def _finalize(self) -> ShardInfo:
        table = pa.concat_tables(self._tables) if self._tables else self.schema.empty_table()
        data = encode_parquet(
            table.replace_schema_metadata(self.schema.metadata), self.row_group_rows
        )
        self.root.join(self.rel_path).write_atomic(data)
        return ShardInfo(self.rel_path, table.num_rows, sha256_hex(data), len(data))


def encode_parquet(table: pa.Table, row_group_rows: int) -> bytes:
    """The Parquet bytes of `table`: a pure function of the table and the options."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        row_group_size=max(1, row_group_rows),
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
    )
    return bytes(sink.getvalue().to_pybytes())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(shards: Sequence[ShardInfo], vocab_sha256: str) -> str:
    """One hash of everything a trainer reads: every shard's checksum and the vocabulary's."""
    digest = hashlib.sha256()
    for shard in sorted(shards, key=lambda s: s.path):
        digest.update(f"{shard.path} {shard.sha256}\n".encode())
    digest.update(f"{VOCAB} {vocab_sha256}\n".encode())
    return digest.hexdigest()


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (strict_json(manifest, indent=2) + "\n").encode()


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """The sha256 of every field of the manifest but the digest itself (canonical JSON): an
    edit of any of them (normalization, sources, writers, quarantine, report, the card's
    checksum) no longer fits it."""
    rest = {k: v for k, v in manifest.items() if k != MANIFEST_DIGEST}
    return hashlib.sha256(canonical_json(rest).encode()).hexdigest()


def card_splits(manifest: Mapping[str, Any]) -> list[str]:
    """The splits a dataset card names for the Hub: those with shards (a split with no rows
    has none, and a YAML entry matching no file stops `datasets.load_dataset`)."""
    return [name for name, entry in manifest["splits"].items() if entry.get("files")]


def listed(shards: Sequence[ShardInfo]) -> list[ShardInfo]:
    """The shards a manifest lists: those holding rows. A unit that kept no rows (all of its
    input quarantined, or a split too small to reach it) leaves no file: a 0-row Parquet file
    has no row group, and Hugging Face `datasets` refuses it ("BatchSize must be greater
    than 0") for every split, not only its own. Its shard number is then skipped."""
    return [shard for shard in shards if shard.rows > 0]


def read_json(location: Location) -> Any:
    try:
        return json.loads(location.read_bytes())
    except FileNotFoundError as exc:
        raise DatasetError(f"{location.url}: missing") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{location.url}: not valid JSON ({exc})") from exc


@dataclass(frozen=True)
class Dataset:
    """A built dataset folder, opened through its manifest."""

    root: Location
    manifest: Mapping[str, Any]

    @property
    def corpus(self) -> str:
        return str(self.manifest["corpus"])

    @property
    def splits(self) -> list[str]:
        return list(self.manifest["splits"])

    def shards(self, split: str) -> list[ShardInfo]:
        if split not in self.manifest["splits"]:
            known = ", ".join(self.splits)
            raise DatasetError(f"{self.root.url}: no split {split!r} (splits: {known})")
        return [ShardInfo.from_json(f) for f in self.manifest["splits"][split]["files"]]

    def all_shards(self) -> list[ShardInfo]:
        return [shard for split in self.splits for shard in self.shards(split)]

    def open_shard(self, shard: ShardInfo) -> pq.ParquetFile:
        return self.parquet_file(shard.path, self.root.join(shard.path).open("rb"))

    def unreadable(self, path: str, exc: BaseException) -> DatasetError:
        """The one line for a shard that does not decode (truncated, overwritten, damaged)."""
        return DatasetError(
            f"{self.root.join(path).url}: not a readable Parquet shard ({exc}); "
            f"run `graves-data verify {self.root.url}`"
        )

    def parquet_file(self, path: str, handle: Any) -> pq.ParquetFile:
        """`pq.ParquetFile` of the shard at `path`, open as `handle`; a DatasetError where its
        footer cannot be read."""
        try:
            return pq.ParquetFile(handle)
        except READ_ERRORS as exc:
            raise self.unreadable(path, exc) from exc

    def iter_batches(
        self, split: str, columns: Sequence[str] | None = None, batch_size: int = 1024
    ) -> Iterator[pa.RecordBatch]:
        for shard in self.shards(split):
            with self.root.join(shard.path).open("rb") as handle:
                parquet = self.parquet_file(shard.path, handle)
                try:
                    yield from parquet.iter_batches(batch_size=batch_size, columns=columns)
                except READ_ERRORS as exc:
                    raise self.unreadable(shard.path, exc) from exc

    def table(self, split: str, columns: Sequence[str] | None = None) -> pa.Table:
        tables = []
        for shard in self.shards(split):
            with self.root.join(shard.path).open("rb") as handle:
                try:
                    tables.append(pq.read_table(handle, columns=columns))
                except READ_ERRORS as exc:
                    raise self.unreadable(shard.path, exc) from exc
        if not tables:
            raise DatasetError(f"{self.root.url}: split {split!r} has no shards")
        return pa.concat_tables(tables)


def build_state(root: Location) -> Location:
    """Where a build into the folder `root` keeps what lets a re-run resume it (the plan, a
    record per finished unit, scratch files): beside the folder, as `.<name>.build`, so that a
    finished dataset holds only what its manifest names and can be copied or uploaded as it is.
    Losing it costs only time: the next build redoes every unit."""
    return root.parent().join(f".{root.name}{BUILD_DIR}")


def open_dataset(target: str | Location) -> Dataset:
    """Open a built dataset; a clear DatasetError where the folder is not one."""
    root = target if isinstance(target, Location) else resolve(target)
    if not root.join(MANIFEST).exists():
        if build_state(root).exists() or root.join(BUILD_DIR).exists():
            raise DatasetError(f"{root.url}: build not finished (no {MANIFEST}); run it again")
        raise DatasetError(f"{root.url}: not a graves-data dataset (no {MANIFEST})")
    manifest = read_json(root.join(MANIFEST))
    if not isinstance(manifest, dict) or "schema_version" not in manifest:
        raise DatasetError(f"{root.url}/{MANIFEST}: not a graves-data manifest")
    found = str(manifest["schema_version"])
    if schema_major(found) != schema_major(SCHEMA_VERSION):
        raise DatasetError(
            f"{root.url}: schema version {found}, this graves-data reads {SCHEMA_VERSION}; "
            "rebuild the dataset"
        )
    return Dataset(root, manifest)


def params_digest(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()
