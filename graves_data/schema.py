"""Arrow schemas of the shards: the public on-disk contract.

Bump SCHEMA_VERSION's major part for any change a reader must know about (a column removed,
renamed or retyped); the minor part for added columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = "1.0"

META_SCHEMA_VERSION = b"graves_data.schema_version"
META_CORPUS = b"graves_data.corpus"
META_PARAMS = b"graves_data.params"

OFFSET_TYPE = pa.list_(pa.list_(pa.float32(), 3))

HANDWRITING = pa.schema(
    [
        pa.field("line_id", pa.string(), nullable=False),
        pa.field("form_id", pa.string(), nullable=False),
        pa.field("writer_id", pa.string(), nullable=True),
        pa.field("text", pa.string(), nullable=False),
        pa.field("text_ids", pa.list_(pa.uint16()), nullable=False),
        # (dx, dy, end_of_stroke) in raw board units; the first row is (0, 0, eos) and
        # `origin` is the absolute position of the first point, so that
        # origin + cumsum(offsets[:, :2]) gives the cleaned points back exactly.
        pa.field("offsets", OFFSET_TYPE, nullable=False),
        pa.field("origin", pa.list_(pa.int32(), 2), nullable=False),
        # seconds since the previous point (0 for the first); null where the source has no time
        pa.field("dt", pa.list_(pa.float32()), nullable=True),
        pa.field("n_points", pa.int32(), nullable=False),
        pa.field("n_strokes", pa.int32(), nullable=False),
        pa.field("n_chars", pa.int32(), nullable=False),
        # what cleaning changed on this line
        pa.field("n_interpolated", pa.int32(), nullable=False),
        pa.field("n_dropped", pa.int32(), nullable=False),
        pa.field("n_time_repaired", pa.int32(), nullable=False),
        pa.field("n_empty_strokes", pa.int32(), nullable=False),
    ]
)


# the handwriting rows' count columns, by the name of their sum in the manifest's split entries
HANDWRITING_COUNTS = {
    "points": "n_points",
    "strokes": "n_strokes",
    "chars": "n_chars",
    "interpolated": "n_interpolated",
    "dropped": "n_dropped",
    "time_repaired": "n_time_repaired",
    "empty_strokes": "n_empty_strokes",
}


def text_schema(seq_len: int, id_type: pa.DataType) -> pa.Schema:
    """Fixed-length chunks of symbol ids, in source order.

    `offset` is the position of the chunk's first symbol in the split's symbol stream (bytes
    for byte vocabularies, characters for character vocabularies); `length` is the number of
    real symbols in the chunk (less than seq_len only in the last chunk, which is padded with 0).
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be positive, got {seq_len}")
    if id_type not in (pa.uint8(), pa.uint16(), pa.uint32()):
        raise ValueError(f"id_type must be an unsigned integer type, got {id_type}")
    return pa.schema(
        [
            pa.field("ids", pa.list_(id_type, seq_len), nullable=False),
            pa.field("offset", pa.int64(), nullable=False),
            pa.field("length", pa.int32(), nullable=False),
        ]
    )


def file_metadata(corpus: str, params: Mapping[str, Any]) -> dict[bytes, bytes]:
    """Key-value metadata stamped on every Parquet file of a build."""
    return {
        META_SCHEMA_VERSION: SCHEMA_VERSION.encode(),
        META_CORPUS: corpus.encode(),
        META_PARAMS: canonical_json(params).encode(),
    }


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed and compared."""
    return strict_json(value, sort_keys=True, separators=(",", ":"))


def strict_json(value: Any, **options: Any) -> str:
    """`json.dumps(value, **options)` that only ever writes strict JSON (RFC 8259): NaN and
    infinities, which Python would write as the bare words `NaN` and `Infinity` that no other
    JSON reader accepts, raise a ValueError naming where they are. `ensure_ascii` defaults to
    False (the files are UTF-8). Every JSON file graves-data writes goes through here."""
    options.setdefault("ensure_ascii", False)
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError as exc:
        where = non_finite_path(value)
        if where is None:
            raise
        raise ValueError(f"{where}: not a finite number, which JSON cannot hold") from exc


def non_finite_path(value: Any, where: str = "$") -> str | None:
    """Where the first NaN or infinity in a JSON-like value is (`$.params.x[2]`), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, Mapping):
        items: Any = ((f"{where}.{k}", v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for path, item in items:
        found = non_finite_path(item, path)
        if found is not None:
            return found
    return None


def schema_major(version: str) -> int:
    return int(version.split(".", 1)[0])
