"""The text builds' inputs: their resume stamps are the storage layer's, for every store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graves_data.pipelines.textbuild import input_stamp
from graves_data.storage import Location, change_stamp


class _Store:
    """An object store's `info()`: no mtime, a LastModified to the second, an ETag."""

    def __init__(self, etag: str) -> None:
        self.etag = etag

    def info(self, path: str) -> dict[str, Any]:
        return {
            "size": 12,
            "LastModified": datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC),
            "ETag": f'"{self.etag}"',
        }


def _object(etag: str) -> Location:
    return Location(_Store(etag), "bucket/ptb.valid.txt")


def test_a_same_size_object_replaced_within_the_second_gets_another_stamp() -> None:
    before = input_stamp(_object("0cc175b9c0f1b6a831c399e269772661"), "ptb.valid.txt")
    after = input_stamp(_object("92eb5ffee6ae2fec3ad71c777531578f"), "ptb.valid.txt")
    assert before[:2] == after[:2] == ("ptb.valid.txt", 12)
    assert before[2] != after[2]


def test_the_text_stamp_is_the_storage_stamp() -> None:
    store = _Store("0cc175b9c0f1b6a831c399e269772661")
    stamp = input_stamp(Location(store, "bucket/x"), "x")
    assert stamp == ("x", 12, change_stamp(store.info("bucket/x")))
