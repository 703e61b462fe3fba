"""What "the same dataset" means in these tests: every file's bytes, from any filesystem."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

from graves_data.shards import BUILD_DIR
from graves_data.storage import TMP_MARK, Location, resolve


def dataset_files(target: str | Path | Location) -> dict[str, bytes]:
    """Every file of a dataset folder (local path or URL) by relative path, without the
    runner's `.build/` bookkeeping; a file left under a temporary name fails the test."""
    root = target if isinstance(target, Location) else resolve(str(target))
    files: dict[str, bytes] = {}
    for rel in root.walk_files():
        if TMP_MARK in posixpath.basename(rel):
            raise AssertionError(f"{root.url}/{rel}: a temporary file was left behind")
        if rel.split("/", 1)[0] == BUILD_DIR:
            continue
        files[rel] = root.join(rel).read_bytes()
    return files


def manifest(target: str | Path | Location) -> dict[str, Any]:
    root = target if isinstance(target, Location) else resolve(str(target))
    data: dict[str, Any] = json.loads(root.join("manifest.json").read_bytes())
    return data


def assert_same_dataset(built: str | Path | Location, reference: str | Path | Location) -> None:
    """Same content hash, same file names, same bytes in each."""
    ours, theirs = dataset_files(built), dataset_files(reference)
    assert manifest(built)["content_hash"] == manifest(reference)["content_hash"]
    assert sorted(ours) == sorted(theirs)
    differing = [rel for rel in ours if ours[rel] != theirs[rel]]
    assert not differing, f"files differ: {differing}"
