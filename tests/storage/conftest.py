"""One moto S3 server for the storage tests, with this process's environment pointing s3fs
at it (restored afterwards), and a fresh pair of buckets per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.storage.s3server import MotoServer


def _forget_s3_clients() -> None:
    """s3fs caches its filesystems by arguments: one made for another endpoint must go."""
    from s3fs import S3FileSystem

    S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="package")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    saved = {key: os.environ.get(key) for key in server.env}
    os.environ.update(server.env)
    _forget_s3_clients()
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _forget_s3_clients()
        server.close()


@dataclass(frozen=True)
class Buckets:
    """A raw and an out bucket of one test, and an s3fs filesystem to look into them."""

    fs: Any
    raw: str
    out: str

    def upload(self, folder: Path, prefix: str) -> str:
        """Copy a local folder to s3://<raw bucket>/<prefix>; return its URL."""
        self.fs.put(f"{folder}/", f"{self.raw}/{prefix}", recursive=True)
        return f"s3://{self.raw}/{prefix}"


def new_buckets() -> Buckets:
    from s3fs import S3FileSystem

    fs = S3FileSystem()
    tag = uuid.uuid4().hex[:8]
    raw, out = f"raw-{tag}", f"out-{tag}"
    fs.mkdir(raw)
    fs.mkdir(out)
    return Buckets(fs, raw, out)


@pytest.fixture
def buckets(moto: MotoServer) -> Buckets:
    """Buckets of this test alone (for tests that change what they find there)."""
    return new_buckets()


@pytest.fixture(scope="module")
def shared_buckets(moto: MotoServer) -> Buckets:
    """Buckets of a whole module, for tests that only read."""
    return new_buckets()
