"""Arrow schemas of the shards: the public on-disk contract.

Bump SCHEMA_VERSION's major part for any change a reader must know about (a column removed,
renamed or retyped); the minor part for added columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
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
        if isinstance(options.get("indent"), int) and options.keys() <= INDENTED_OPTIONS:
            return _Indented(options).text(value, 0)
        return json.dumps(value, allow_nan=False, **options)
    except ValueError as exc:
        where = non_finite_path(value)
        if where is None:
            raise
        raise ValueError(f"{where}: not a finite number, which JSON cannot hold") from exc


INDENTED_OPTIONS = frozenset({"indent", "ensure_ascii", "sort_keys"})
SCALARS = (str, int, float, type(None))  # bool is an int


class _Indented:
    """`json.dumps(value, indent=n, allow_nan=False, ...)`, the same text, mostly written by
    json's C encoder: `indent` alone makes json use its pure-Python one, which took 0.13 s for
    a manifest listing 15,000 sources. A container of scalars is one C call whose item
    separator carries the newline and indent of its items; a list of records (dicts of
    scalars) is one C call too, whose separators between records are then re-indented. Both
    rest on one fact: JSON text never holds a raw newline inside a string (json escapes it),
    so every newline written is a separator's. Other containers are joined here, and a dict
    whose keys are not all strings is left to json whole, its lines shifted to its depth."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.step = int(options["indent"])
        self.flat = {
            "ensure_ascii": options["ensure_ascii"],
            "sort_keys": bool(options.get("sort_keys", False)),
            "allow_nan": False,
        }

    def text(self, value: Any, depth: int) -> str:
        if not isinstance(value, (dict, list, tuple)) or not value:
            return json.dumps(value, **self.flat)  # a scalar, an empty container, or json's error
        inner, outer = self.newline(depth + 1), self.newline(depth)
        if isinstance(value, dict) and not all(type(key) is str for key in value):
            return json.dumps(value, indent=self.step, **self.flat).replace("\n", outer)
        items = list(value.values()) if isinstance(value, dict) else value
        if all(isinstance(item, SCALARS) for item in items):
            text = json.dumps(value, separators=("," + inner, ": "), **self.flat)
            return text[0] + inner + text[1:-1] + outer + text[-1]
        if not isinstance(value, dict) and all(_is_record(item) for item in value):
            return self.records(value, depth)
        if isinstance(value, dict):
            pairs = sorted(value.items()) if self.flat["sort_keys"] else value.items()
            body = [f"{json.dumps(k, **self.flat)}: {self.text(v, depth + 1)}" for k, v in pairs]
            return "{" + inner + ("," + inner).join(body) + outer + "}"
        body = [self.text(item, depth + 1) for item in value]
        return "[" + inner + ("," + inner).join(body) + outer + "]"

    def records(self, value: Sequence[Mapping[str, Any]], depth: int) -> str:
        """A non-empty list of non-empty dicts of scalars `depth` deep: one C call with every
        separator `field`, then those between records (`},` + field + `{`) rewritten."""
        outer, record, field = self.newline(depth), self.newline(depth + 1), self.newline(depth + 2)
        text = json.dumps(value, separators=("," + field, ": "), **self.flat)
        body = text[2:-2].replace("}," + field + "{", record + "}," + record + "{" + field)
        return "[" + record + "{" + field + body + record + "}" + outer + "]"

    def newline(self, depth: int) -> str:
        return "\n" + " " * (self.step * depth)


def _is_record(value: Any) -> bool:
    return (
        type(value) is dict
        and bool(value)
        and all(type(key) is str and isinstance(item, SCALARS) for key, item in value.items())
    )


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
