"""The dashboard (Node, ioredis) asks the Sentinels for the primary, as every client does.

Before, it dialled BULLMQ_PLATFORM_REDIS_HOST (pod 0) and ignored the Sentinel
env the chart gives it: after any failover pod 0 is a replica, and the board's
actions (retry, clean) were refused READONLY. Here the dashboard is pointed at
pod 0 as before, with the Sentinel env the chart sets; after a failover its
connection (named `bullmq-platform-dashboard`) must be on the new primary and
none on pod 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from local_stack.dashboard import basic_auth_password_file, install_node_modules
from local_stack.processes import dashboard_process, write_spec_file
from local_stack.redis_server import RedisServer, local_spec
from local_stack.sentinel_cluster import SentinelCluster, sentinel_spec

pytestmark = [pytest.mark.redis, pytest.mark.slow]
TIMEOUT = 60.0
NAME = "bullmq-platform-dashboard"


def dashboard_clients(node: RedisServer) -> int:
    try:
        client = redis.Redis(**node.connection_kwargs("admin"), socket_timeout=2)
        listed = client.client_list()
        client.close()
    except redis.RedisError:
        return 0
    return sum(1 for c in listed if c.get("name") == NAME)


def fail_over(cluster: SentinelCluster) -> RedisServer:
    before = cluster.primary()
    client = cluster.sentinel_client(cluster.sentinels[0], "sentinel")
    assert client.execute_command("SENTINEL", "FAILOVER", cluster.master_name)
    client.close()
    cluster.wait_for(
        lambda: cluster.primary_port() not in (None, before.port), TIMEOUT, "a new primary"
    )
    cluster.wait_for(cluster.writable, TIMEOUT, "the new primary to take writes")
    return cluster.primary()


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelCluster]:
    """The conftest's set, with the dashboard on (its ACL user on every node and Sentinel)."""
    base = sentinel_spec()
    spec = local_spec(
        redis=base.redis.model_dump(by_alias=True, exclude_unset=True),
        keda={"scaler": "redis"},
        dashboard={"enabled": True},
    )
    cluster = SentinelCluster(tmp_path / "redis", spec=spec)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_it_should_connect_the_dashboard_to_the_primary(
    sentinels: SentinelCluster, tmp_path: Path
) -> None:
    install_node_modules()
    node0 = sentinels.nodes[0]
    spec_file = write_spec_file(tmp_path / "spec.json", sentinels.spec)
    # Pointed at pod 0, as the chart's BULLMQ_PLATFORM_REDIS_HOST does.
    board = dashboard_process(
        node0, spec_file, tmp_path / "logs", password_file=basic_auth_password_file(tmp_path)
    )
    board.env.update(sentinels.env("dashboard"))
    board.start()
    try:
        sentinels.wait_for(
            lambda: dashboard_clients(sentinels.primary()) > 0 or not board.running,
            TIMEOUT,
            "the dashboard's connection on the primary",
        )
        assert board.running, board.log_file.read_text()[-2000:]
        moved_to = fail_over(sentinels)
        # Before: it reconnected to pod 0, a replica now, and stayed there.
        sentinels.wait_for(
            lambda: dashboard_clients(moved_to) > 0, TIMEOUT, "the dashboard to follow"
        )
        assert dashboard_clients(node0) == 0, "the dashboard stayed on pod 0, now a replica"
        assert board.probe("/readyz") == 200
    finally:
        board.terminate(timeout=15)
