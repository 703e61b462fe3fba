"""A loopback dask cluster (scheduler and two workers), shared by the tests of a module that
leave it intact; tests that kill workers start their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.daskcluster import DaskCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    with DaskCluster(tmp_path_factory.mktemp("dask")).start(workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def client(cluster: DaskCluster) -> Iterator[Any]:
    from distributed import Client

    with Client(cluster.address, timeout="20s") as connected:
        yield connected


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A cluster for one test alone (its workers get killed)."""
    with DaskCluster(tmp_path / "dask").start(workers=2) as running:
        yield running
