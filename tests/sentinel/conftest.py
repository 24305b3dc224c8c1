"""A Sentinel set (3 redis-servers + 3 Sentinels, the chart's config) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.sentinel_cluster import SentinelCluster, sentinel_spec


@pytest.fixture
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelCluster]:
    cluster = SentinelCluster(tmp_path_factory.mktemp("sentinel"), spec=sentinel_spec())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
