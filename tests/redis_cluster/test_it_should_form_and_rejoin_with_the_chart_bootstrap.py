"""The chart's in-pod bootstrap (files/redis-cluster-bootstrap.sh) on real nodes.

Six bare redis-server nodes run the chart's cluster config; the script, run one
round at a time on every node as the pods' sidecars do, forms the cluster
(`redis-cli --cluster create`, TLS, `cluster` user, password via REDISCLI_AUTH),
changes nothing on a formed cluster, brings a restarted node back, and turns a
node that lost its volume into a replica.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.redis_cluster import ClusterNode, RedisClusterStack, cluster_spec

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROUNDS = 60  # bounded: each round is one pass of every node's sidecar


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[RedisClusterStack]:
    stack = RedisClusterStack(tmp_path / "bare", spec=cluster_spec(), shards=3, replicas=1)
    stack.prepare()
    for node in stack.nodes:
        node.start()
    try:
        yield stack
    finally:
        stack.stop(kill=True)


def _entry(node: ClusterNode) -> str:
    return f"127.0.0.1:{node.port}:{node.bus_port}"


def _round(stack: RedisClusterStack) -> None:
    """One bootstrap round on every live node (ONCE=1), as the sidecars would run it."""
    assert stack.tls is not None
    peers = " ".join(_entry(n) for n in stack.nodes)
    for node in stack.nodes:
        if not node.alive:
            continue
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SELF": _entry(node),
            "PEERS": peers,
            "SHARDS": str(stack.shards),
            "REPLICAS": str(stack.replicas),
            "PASSWORD_FILE": str(stack.password_dir / "cluster"),
            "REDIS_TLS": "true",
            "REDIS_TLS_CA_FILE": str(stack.tls.ca_cert),
            "ONCE": "1",
        }
        script = node.state_dir / "conf" / "redis-cluster-bootstrap.sh"
        subprocess.run(["sh", str(script)], env=env, check=True, timeout=120, capture_output=True)


def _role(node: ClusterNode) -> str:
    with node.admin() as client:
        return str(client.info("replication")["role"])


def _until_healthy(stack: RedisClusterStack, *, replica: ClusterNode | None = None) -> int:
    """Bootstrap rounds until the cluster is healthy with every node known (and `replica`
    a replica). A slow machine's gossip can still list a wiped node's old id at its
    address, so "every node known" alone can hold before the new node has been placed."""
    for n in range(1, ROUNDS + 1):
        _round(stack)
        if (
            stack.healthy()
            and len(stack._known(stack.seed)) == len(stack.nodes)
            and (replica is None or _role(replica) == "slave")
        ):
            return n
    where = f" ({replica.port} is a {_role(replica)})" if replica is not None else ""
    raise AssertionError(f"not formed after {ROUNDS} rounds{where}")


def _slot_map(stack: RedisClusterStack) -> list[tuple[int, int]]:
    with stack.seed.admin() as client:
        return sorted((int(lo), int(hi)) for lo, hi, *_ in client.execute_command("CLUSTER SLOTS"))


def test_it_should_form_the_cluster_and_stay_idempotent(bare: RedisClusterStack) -> None:
    rounds = _until_healthy(bare)
    slots = _slot_map(bare)
    print(f"[bootstrap] formed 3 x 2 in {rounds} round(s); slot ranges {slots}")
    assert sum(hi - lo + 1 for lo, hi in slots) == 16384
    _round(bare)
    _round(bare)
    assert _slot_map(bare) == slots and bare.healthy()


def test_it_should_bring_back_a_restarted_node_and_a_node_without_its_volume(
    bare: RedisClusterStack,
) -> None:
    _until_healthy(bare)
    restarted, wiped = bare.nodes[1], bare.nodes[4]
    restarted.stop(kill=True)
    restarted.start()  # nodes.conf on its data dir: it rejoins by itself
    wiped.stop(kill=True)
    shutil.rmtree(wiped.state_dir / "data")
    (wiped.state_dir / "data").mkdir()
    wiped.start()  # a new, empty node on the old address: the bootstrap makes it a replica
    rounds = _until_healthy(bare, replica=wiped)
    print(f"[bootstrap] restarted + wiped nodes back in {rounds} round(s); wiped is a replica")
    assert sum(hi - lo + 1 for lo, hi in _slot_map(bare)) == 16384
