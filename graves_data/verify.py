"""`graves-data verify`: prove that a dataset on disk is the one its manifest describes.

Everything a trainer reads is recomputed from the bytes on disk and compared with
`manifest.json`: every shard's size and sha256, its row count (decoded, not read from the
footer alone), its Arrow schema (against `graves_data.schema` for the dataset's kind), the
schema version, corpus and parameters stamped in its metadata, and the per-split totals the
manifest reports; `vocab.json` against the manifest's `vocab.sha256`; the manifest's own
`content_hash` against the shard list it holds, which is how a hand edit of the manifest shows
(change a row count or a checksum and the recorded hash no longer fits); the manifest's own
digest (`manifest_sha256`, over every other field: normalization, sources, writers,
quarantine, report, params) and the dataset card's sha256 (`card`), so an edit of what the
content hash does not cover shows too, and so does a deleted or edited README.md. Files under
the dataset that the manifest does not name are reported too (`.build/`, the resume records,
is not part of the dataset and is ignored). Shard numbers may skip: a unit that kept no rows
writes no shard (`shards.listed`).

Each finding is a `Problem` with a stable `code`, the `path` it concerns and a sentence; the
dataset is intact only when there are none. Works on any fsspec URL (through `Location`).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graves_data.errors import InputNotFound
from graves_data.schema import (
    HANDWRITING,
    HANDWRITING_COUNTS,
    META_CORPUS,
    META_PARAMS,
    META_SCHEMA_VERSION,
    SCHEMA_VERSION,
    canonical_json,
    schema_major,
    text_schema,
)
from graves_data.shards import (
    BUILD_DIR,
    CARD,
    DATA_DIR,
    MANIFEST,
    MANIFEST_DIGEST,
    VOCAB,
    ShardInfo,
    build_state,
    content_hash,
    manifest_digest,
    sha256_hex,
)
from graves_data.storage import TMP_MARK, Location, resolve
from graves_data.vocab import id_type

SHARD_NAME = re.compile(r"^data/(?P<split>.+)-(?P<index>[0-9]{5})-of-(?P<count>[0-9]{5})\.parquet$")
# manifest split totals -> the shard column whose sum they are
HANDWRITING_TOTALS = HANDWRITING_COUNTS
TEXT_TOTALS = {"symbols": "length"}
ID_COLUMNS = {"handwriting": "text_ids", "text": "ids"}
BATCH_ROWS = 4096
FLOAT_COLUMNS = {"handwriting": ("offsets", "dt")}  # checked for NaN and infinity


@dataclass(frozen=True)
class Problem:
    """One thing wrong: `code` is a stable key, `path` relative to the dataset folder."""

    code: str
    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path or '.'}: {self.message} [{self.code}]"


@dataclass
class VerifyReport:
    """What `verify` found: intact when `problems` is empty."""

    dataset: str
    problems: list[Problem] = field(default_factory=list)
    shards: int = 0
    rows: int = 0
    content_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, path, message))

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "ok": self.ok,
            "shards": self.shards,
            "rows": self.rows,
            "content_hash": self.content_hash,
            "problems": [p.to_json() for p in self.problems],
        }


def verify(target: str | Location) -> VerifyReport:
    """Check the dataset at `target` against its manifest; see the module docstring."""
    root = target if isinstance(target, Location) else resolve(target)
    if not root.exists():
        raise InputNotFound(f"{root.url}: no such dataset folder")
    report = VerifyReport(root.url)
    manifest = _load_manifest(root, report)
    if manifest is None:
        return report
    expected = _expected_files(manifest, report)
    vocab_size = _check_vocab(root, manifest, report)
    _check_content_hash(manifest, report)
    _check_digest(manifest, report)
    _check_card(root, manifest, report)
    schema = _expected_schema(manifest, vocab_size, report)
    sums: dict[str, dict[str, int]] = {}
    complete = True
    for split, shard in _listed_shards(manifest, report):
        found = _check_shard(root, manifest, split, shard, schema, vocab_size, report)
        if found is None:
            complete = False
            continue
        for column, value in found.items():
            sums.setdefault(split, {}).setdefault(column, 0)
            sums[split][column] += value
    if complete and schema is not None:
        _check_split_totals(manifest, sums, report)
    _check_extra_files(root, expected, report)
    if report.ok:
        report.content_hash = str(manifest["content_hash"])
    return report


# ---------------------------------------------------------------------------------------------
# the manifest


def _load_manifest(root: Location, report: VerifyReport) -> dict[str, Any] | None:
    location = root.join(MANIFEST)
    if not location.exists():
        if build_state(root).exists() or root.join(BUILD_DIR).exists():
            report.add(
                "unfinished-build", MANIFEST, "missing: the build never finished; run it again"
            )
        else:
            report.add("no-manifest", MANIFEST, "missing: not a graves-data dataset")
        return None
    try:
        manifest = json.loads(location.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.add("manifest-unreadable", MANIFEST, f"not valid JSON ({exc})")
        return None
    missing = [
        k
        for k in ("schema_version", "corpus", "params", "splits", "vocab", "content_hash")
        if not isinstance(manifest, dict) or k not in manifest
    ]
    if missing:
        report.add(
            "manifest-unreadable", MANIFEST, f"not a graves-data manifest (no {', '.join(missing)})"
        )
        return None
    found = str(manifest["schema_version"])
    if not re.fullmatch(r"[0-9]+\.[0-9]+", found) or schema_major(found) != schema_major(
        SCHEMA_VERSION
    ):
        report.add(
            "schema-version",
            MANIFEST,
            f"schema version {found}; this graves-data reads {SCHEMA_VERSION}",
        )
        return None
    return dict(manifest)


def _listed_shards(
    manifest: Mapping[str, Any], report: VerifyReport
) -> Iterator[tuple[str, ShardInfo]]:
    for split, entry in manifest["splits"].items():
        for index, item in enumerate(entry.get("files", [])):
            try:
                yield split, ShardInfo.from_json(item)
            except (KeyError, TypeError, ValueError) as exc:
                where = f"splits.{split}.files[{index}]"
                report.add("manifest-unreadable", MANIFEST, f"{where} is malformed ({exc})")


def _expected_files(manifest: Mapping[str, Any], report: VerifyReport) -> set[str]:
    """The paths the manifest names; shard names are checked against their split and count."""
    names: set[str] = {MANIFEST, VOCAB, *([CARD] if "card" in manifest else [])}
    for split, entry in manifest["splits"].items():
        files = entry.get("files", [])
        paths = [str(f.get("path", "")) for f in files if isinstance(f, dict)]
        for path in paths:
            if path in names:
                report.add("manifest-edited", MANIFEST, f"{path} is listed twice")
            names.add(path)
        _check_shard_names(paths, split, report)
        rows = sum(int(f.get("rows", 0)) for f in files if isinstance(f, dict))
        if entry.get("rows") != rows:
            report.add(
                "manifest-edited",
                MANIFEST,
                f"splits.{split}.rows says {entry.get('rows')}, its files add up to {rows}",
            )
    return names


def _check_shard_names(paths: list[str], split: str, report: VerifyReport) -> None:
    """`data/<split>-<i>-of-<n>.parquet`, `i` increasing below the one `n` of the split. A
    number may be skipped: a unit that kept no rows writes no shard (`shards.listed`)."""
    previous, counts = -1, set()
    for path in paths:
        match = SHARD_NAME.match(path)
        if match is None or match["split"] != split:
            want = f"{DATA_DIR}/{split}-<i>-of-<n>.parquet"
            report.add(
                "manifest-edited",
                MANIFEST,
                f"a shard of split {split} is listed as {path!r}, not {want!r}",
            )
            continue
        index, count = int(match["index"]), int(match["count"])
        counts.add(count)
        if not previous < index < count:
            report.add(
                "manifest-edited",
                MANIFEST,
                f"shard {path!r} of split {split} is out of order, or beyond its count",
            )
        previous = index
    if len(counts) > 1:
        report.add(
            "manifest-edited",
            MANIFEST,
            f"the shards of split {split} disagree on their count ({sorted(counts)})",
        )


def _check_content_hash(manifest: Mapping[str, Any], report: VerifyReport) -> None:
    """The recorded content hash must be the hash of the shard list and vocab the manifest
    holds: a hand edit of a checksum, or of the shard list, breaks it."""
    shards: list[ShardInfo] = []
    for entry in manifest["splits"].values():
        for item in entry.get("files", []):
            try:
                shards.append(ShardInfo.from_json(item))
            except (KeyError, TypeError, ValueError):
                return  # reported by _listed_shards
    vocab_sha = str(manifest["vocab"].get("sha256", ""))
    recomputed = content_hash(shards, vocab_sha)
    if recomputed != manifest["content_hash"]:
        report.add(
            "manifest-edited",
            MANIFEST,
            f"content_hash {manifest['content_hash']} does not match the shards and vocabulary "
            f"it lists (recomputed {recomputed}): the manifest was edited",
        )


def _check_digest(manifest: Mapping[str, Any], report: VerifyReport) -> None:
    """The manifest's own digest covers every field the content hash does not: the
    normalization a trainer reads, sources, writers, quarantine, report, the card's sha256."""
    recorded = manifest.get(MANIFEST_DIGEST)
    if recorded is None:
        report.add(
            "manifest-unsealed",
            MANIFEST,
            f"no {MANIFEST_DIGEST} (deleted, or written by an older graves-data): its "
            "normalization, sources, quarantine and card cannot be checked; build it again",
        )
        return
    recomputed = manifest_digest(manifest)
    if recorded != recomputed:
        report.add(
            "manifest-edited",
            MANIFEST,
            f"{MANIFEST_DIGEST} {recorded} does not match the manifest (recomputed "
            f"{recomputed}): a field was edited (normalization, sources, writers, quarantine, "
            "report, card, ...)",
        )


def _check_card(root: Location, manifest: Mapping[str, Any], report: VerifyReport) -> None:
    """README.md, whose YAML names the files the Hub's `load_dataset` reads, as written."""
    recorded = manifest.get("card")
    if not isinstance(recorded, Mapping):
        return  # no card was written; a README.md is then an extra file
    location = root.join(CARD)
    if not location.exists():
        report.add("missing-card", CARD, "missing (the manifest records its sha256)")
        return
    digest = sha256_hex(location.read_bytes())
    if digest != recorded.get("sha256"):
        report.add(
            "card-edited",
            CARD,
            f"sha256 {digest}, the manifest records {recorded.get('sha256')}: the dataset "
            "card (whose YAML names the files `load_dataset` reads) was changed",
        )


# ---------------------------------------------------------------------------------------------
# vocabulary and schema


def _check_vocab(root: Location, manifest: Mapping[str, Any], report: VerifyReport) -> int | None:
    """The vocabulary's size, or None where vocab.json cannot be trusted."""
    location = root.join(VOCAB)
    if not location.exists():
        report.add("missing-vocab", VOCAB, "missing (the manifest names it)")
        return None
    data = location.read_bytes()
    recorded = manifest["vocab"]
    if hashlib.sha256(data).hexdigest() != recorded.get("sha256"):
        report.add(
            "vocab-edited",
            VOCAB,
            f"sha256 {hashlib.sha256(data).hexdigest()}, the manifest records "
            f"{recorded.get('sha256')}: the vocabulary was changed",
        )
    try:
        symbols = json.loads(data)["symbols"]
        size = len(symbols)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        report.add("vocab-unreadable", VOCAB, f"not a vocabulary ({exc})")
        return None
    if recorded.get("size") != size:
        report.add(
            "vocab-edited", VOCAB, f"{size} symbols, the manifest records {recorded.get('size')}"
        )
    return size


def text_id_type(vocab_size: int) -> pa.DataType:
    """The id type of a text shard (`graves_data.vocab.id_type`)."""
    return id_type(vocab_size)


def _expected_schema(
    manifest: Mapping[str, Any], vocab_size: int | None, report: VerifyReport
) -> pa.Schema | None:
    kind = manifest.get("kind")
    if kind == "handwriting":
        return HANDWRITING
    if kind == "text":
        seq_len = manifest["params"].get("seq_len")
        size = vocab_size if vocab_size is not None else manifest["vocab"].get("size")
        if isinstance(seq_len, int) and seq_len > 0 and isinstance(size, int):
            return text_schema(seq_len, text_id_type(size))
        report.add("manifest-unreadable", MANIFEST, "a text dataset without params.seq_len")
        return None
    report.add("manifest-unreadable", MANIFEST, f"unknown dataset kind {kind!r}")
    return None


# ---------------------------------------------------------------------------------------------
# shards


def _check_shard(
    root: Location,
    manifest: Mapping[str, Any],
    split: str,
    shard: ShardInfo,
    schema: pa.Schema | None,
    vocab_size: int | None,
    report: VerifyReport,
) -> dict[str, int] | None:
    """Check one shard; return its rows and column sums, or None where it failed a check."""
    report.shards += 1
    location = root.join(shard.path)
    if not location.exists():
        report.add("missing-shard", shard.path, f"missing (split {split}, {shard.rows} rows)")
        return None
    data = location.read_bytes()
    if not _bytes_match(shard, data, report):
        return None
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        report.add("shard-unreadable", shard.path, f"not a readable Parquet file ({exc})")
        return None
    if not _check_schema(parquet, shard, schema, report):
        return None
    _check_metadata(parquet, shard, manifest, report)
    sums = _decoded_sums(parquet, shard, manifest, vocab_size, report)
    if sums is None:
        return None
    report.rows += sums["rows"]
    if sums["rows"] != shard.rows:
        report.add(
            "shard-rows",
            shard.path,
            f"holds {sums['rows']} rows, the manifest records {shard.rows}",
        )
    return sums


def _bytes_match(shard: ShardInfo, data: bytes, report: VerifyReport) -> bool:
    """Size and checksum; False where the file is not the one written (not worth decoding)."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) < shard.bytes:
        report.add(
            "truncated-shard",
            shard.path,
            f"truncated: {len(data)} of {shard.bytes} bytes",
        )
        return False
    if len(data) > shard.bytes:
        report.add(
            "shard-size",
            shard.path,
            f"{len(data)} bytes, the manifest records {shard.bytes}: bytes were added",
        )
        return False
    if digest != shard.sha256:
        report.add(
            "shard-checksum",
            shard.path,
            f"sha256 {digest}, the manifest records {shard.sha256}: same size, so bytes were "
            "changed in place (a flipped bit, a bad disk or copy)",
        )
        return False
    return True


def _check_schema(
    parquet: pq.ParquetFile, shard: ShardInfo, schema: pa.Schema | None, report: VerifyReport
) -> bool:
    if schema is None:
        return False
    found = parquet.schema_arrow
    if found.equals(schema, check_metadata=False):
        return True
    want = {f.name: f for f in schema}
    have = {f.name: f for f in found}
    diffs = [f"missing column {n}" for n in want if n not in have]
    diffs += [f"extra column {n}" for n in have if n not in want]
    diffs += [
        f"{n} is {have[n].type}{'' if have[n].nullable else ' not null'}, "
        f"expected {want[n].type}{'' if want[n].nullable else ' not null'}"
        for n in want
        if n in have and not have[n].equals(want[n])
    ]
    if not diffs and list(have) != list(want):
        diffs = ["columns in another order"]
    report.add("shard-schema", shard.path, "schema differs: " + "; ".join(diffs))
    return False


def _check_metadata(
    parquet: pq.ParquetFile, shard: ShardInfo, manifest: Mapping[str, Any], report: VerifyReport
) -> None:
    meta = parquet.schema_arrow.metadata or {}
    expected = {
        META_SCHEMA_VERSION: str(manifest["schema_version"]).encode(),
        META_CORPUS: str(manifest["corpus"]).encode(),
        META_PARAMS: canonical_json(manifest["params"]).encode(),
    }
    wrong = [key.decode() for key, value in expected.items() if meta.get(key) != value]
    if wrong:
        report.add(
            "shard-metadata",
            shard.path,
            f"file metadata {', '.join(wrong)} differ from the manifest "
            "(a shard of another build?)",
        )


def _decoded_sums(
    parquet: pq.ParquetFile,
    shard: ShardInfo,
    manifest: Mapping[str, Any],
    vocab_size: int | None,
    report: VerifyReport,
) -> dict[str, int] | None:
    """Rows and the sums of the count columns, by decoding every row group; symbol ids
    checked against the vocabulary on the way."""
    kind = str(manifest.get("kind"))
    id_column = ID_COLUMNS.get(kind)
    columns = (HANDWRITING_TOTALS if kind == "handwriting" else TEXT_TOTALS).values()
    sums = {"rows": 0, **dict.fromkeys(columns, 0)}
    largest = -1
    non_finite = dict.fromkeys(FLOAT_COLUMNS.get(kind, ()), 0)
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            sums["rows"] += batch.num_rows
            for column in non_finite:
                non_finite[column] += count_non_finite(batch.column(column))
            for column in columns:
                sums[column] += int(pc.sum(batch.column(column)).as_py() or 0)
            if id_column is not None and batch.num_rows:
                top = pc.max(pc.list_flatten(batch.column(id_column))).as_py()
                largest = max(largest, -1 if top is None else int(top))
    except (pa.ArrowException, OSError, ValueError) as exc:
        report.add("shard-unreadable", shard.path, f"does not decode ({exc})")
        return None
    for column, count in non_finite.items():
        if count:
            report.add(
                "non-finite",
                shard.path,
                f"column {column} holds {count:,} NaN or infinite value(s); a build never "
                "writes one, and the networks would train on it",
            )
    if vocab_size is not None and largest >= vocab_size:
        report.add(
            "ids-out-of-vocab",
            shard.path,
            f"holds symbol id {largest}, the vocabulary has {vocab_size} symbols",
        )
    return sums


def count_non_finite(values: pa.Array | pa.ChunkedArray) -> int:
    """How many of the floats below any list nesting are NaN or infinite (nulls are not)."""
    while pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type):
        values = pc.list_flatten(values)
    return int(pc.sum(pc.invert(pc.is_finite(values))).as_py() or 0)


def _check_split_totals(
    manifest: Mapping[str, Any], sums: Mapping[str, Mapping[str, int]], report: VerifyReport
) -> None:
    """Per-split totals in the manifest (points, symbols, ...) against the shards' columns."""
    totals = HANDWRITING_TOTALS if manifest.get("kind") == "handwriting" else TEXT_TOTALS
    for split, entry in manifest["splits"].items():
        found = sums.get(split, {})
        for key, column in totals.items():
            if key in entry and entry[key] != found.get(column, 0):
                report.add(
                    "manifest-edited",
                    MANIFEST,
                    f"splits.{split}.{key} says {entry[key]}, the shards hold "
                    f"{found.get(column, 0)}",
                )


# ---------------------------------------------------------------------------------------------
# files nobody listed


def _check_extra_files(root: Location, expected: set[str], report: VerifyReport) -> None:
    files, passed = root.walk_entries()
    for rel in files:
        if rel.split("/", 1)[0] == BUILD_DIR or rel in expected:
            continue
        if TMP_MARK in posixpath.basename(rel):
            why = "a temporary file a killed writer left; not part of the dataset"
        else:
            why = "not part of the dataset (manifest.json does not name it)"
        report.add("extra-file", rel, why)
    for entry in passed:
        if entry.path.split("/", 1)[0] != BUILD_DIR:
            report.add("extra-file", entry.path, f"{entry.reason}; not part of the dataset")
