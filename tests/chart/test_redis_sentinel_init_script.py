"""The Sentinel pod's init script (files/sentinel-node.sh) against real Sentinels and nodes.

Regressions: every pod start reseeded replication and Sentinel with pod 0 as primary,
so a pod 0 recreated after a failover came back as a second primary; and a pod 0 with
an empty volume started as primary while its peers held the data (their full sync
from it wipes them). Each case runs the script as a fresh pod start would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from local_stack.redis_server import RedisServer
from local_stack.sentinel_cluster import HOST, SentinelCluster, sentinel_spec

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelCluster]:
    sentinels = SentinelCluster(tmp_path_factory.mktemp("sentinel-init"), spec=sentinel_spec())
    sentinels.start()
    try:
        yield sentinels
    finally:
        sentinels.stop()


def _pod_start(cluster: SentinelCluster, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """sentinel-node.sh for node 0 (the chart's first-start primary) into a new folder."""
    first, sentinel = cluster.nodes[0], cluster.sentinels[0]
    assert first.tls is not None
    conf = first.state_dir / "conf"
    tls = {
        "TLS_CA": str(first.tls.ca_cert),
        "TLS_CERT": str(first.tls.server_cert),
        "TLS_KEY": str(first.tls.server_key),
    }
    argv = [
        "sh",
        str(conf / "sentinel-node.sh"),
        str(conf),
        str(first.password_dir),
        HOST,
        str(first.port),
        str(sentinel.port),
        HOST,
        str(first.port),
        str(out),
        "worker",
    ]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **tls, **env},
        check=False,
    )


def _peers(nodes: list[RedisServer] | list[int]) -> str:
    return " ".join(f"{HOST}:{n if isinstance(n, int) else n.port}" for n in nodes)


def _fail_over(cluster: SentinelCluster) -> int:
    old = cluster.primary_port()
    client = cluster.sentinel_client(cluster.sentinels[1], "sentinel")
    try:
        client.execute_command("SENTINEL", "FAILOVER", cluster.master_name)
    finally:
        client.close()
    cluster.wait_for(
        lambda: cluster.primary_port() not in (None, old), 120, "the Sentinels to fail over"
    )
    port = cluster.primary_port()
    assert port is not None
    return port


def test_it_should_follow_the_primary_the_sentinels_name_not_pod_0(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    assert cluster.primary_port() == cluster.nodes[0].port
    primary = _fail_over(cluster)
    done = _pod_start(
        cluster,
        tmp_path / "node",
        SENTINEL_PEERS=" ".join(f"{HOST}:{s.port}" for s in cluster.sentinels),
    )
    replication = (tmp_path / "node" / "replication.conf").read_text()
    monitor = next(
        line
        for line in (tmp_path / "node" / "sentinel.conf").read_text().splitlines()
        if line.startswith("sentinel monitor ")
    )
    print(f"[init] after a failover to :{primary}: {done.stderr.strip()!r}; seeded {monitor!r}")
    assert done.returncode == 0, done.stderr
    assert f"replicaof {HOST} {primary}" in replication
    assert monitor == f"sentinel monitor {cluster.master_name} {HOST} {primary} 2"
    assert "partitioned" not in done.stderr and "secret" not in done.stderr


def test_it_should_refuse_an_empty_primary_while_a_peer_holds_data(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    def kept() -> bool:
        """One write on the primary; refused (NOREPLICAS, READONLY) or unreachable while the
        previous case's failover settles, so the case waits for it instead of racing it."""
        try:
            admin = redis.Redis(**cluster.primary().connection_kwargs("admin"), socket_timeout=5)
        except LookupError:
            return False
        try:
            return bool(admin.set("init:kept", "1"))
        except redis.RedisError:
            return False
        finally:
            admin.close()

    cluster.wait_for(kept, 120, "the primary to take a write")
    (tmp_path / "data").mkdir()
    closed = cluster.sentinels[0].port  # node 0's own Sentinel: skipped, so none answers
    done = _pod_start(
        cluster,
        tmp_path / "node",
        SENTINEL_PEERS=f"{HOST}:{closed}",
        PEER_NODES=_peers(cluster.nodes),
        DATA_DIR=str(tmp_path / "data"),
    )
    print(f"[init] empty pod 0, peers with data: rc={done.returncode} {done.stderr.strip()!r}")
    assert done.returncode != 0
    assert "refusing to start" in done.stderr
    assert not (tmp_path / "node" / "replication.conf").exists()


def test_it_should_start_an_empty_pod_0_as_primary_on_a_first_install(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    nobody = cluster.sentinels[0].port
    done = _pod_start(
        cluster,
        tmp_path / "node",
        SENTINEL_PEERS=f"{HOST}:{nobody}",
        PEER_NODES=f"{HOST}:1",  # no peer answers (none exists yet)
        DATA_DIR=str(tmp_path / "data"),
        PEER_WAIT="0",
    )
    print(f"[init] empty pod 0, no peers: rc={done.returncode} {done.stderr.strip()!r}")
    assert done.returncode == 0, done.stderr
    assert "replicaof" not in (tmp_path / "node" / "replication.conf").read_text()
