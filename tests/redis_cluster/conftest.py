"""Fixtures of the Redis Cluster tests: one local 6-node TLS + ACL cluster per session.

The cluster (local_stack/redis_cluster.py) runs the chart's redis.conf for
`redis.mode: cluster` on ephemeral 127.0.0.1 ports; each test uses its own queue
names, so tests share it without flushing. Helpers: cluster_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.redis_cluster import RedisClusterStack, cluster_spec


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterStack]:
    # No failover in these tests: a node busy with a runaway script (5 s before Redis
    # answers BUSY, test_it_should_kill_a_runaway_script_on_any_primary.py) must not be
    # voted out, which the drills' 1.5 s node timeout would do.
    spec = cluster_spec(redis={"cluster": {"nodeTimeoutMs": 20_000}})
    stack = RedisClusterStack(tmp_path_factory.mktemp("redis-cluster"), spec=spec)
    stack.start(timeout=120)
    assert all(n.port != 6379 for n in stack.nodes), "never the machine's plain Redis"
    try:
        yield stack
    finally:
        stack.stop(kill=True)
