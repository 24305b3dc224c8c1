"""A local Redis Cluster: S shards x (1 primary + R replicas), TLS and ACL, loopback.

Every node is a `RedisServer` (local_stack/redis_server.py) running the chart's
own redis.conf for `redis.mode: cluster` (cluster-enabled, tls-cluster,
tls-replication, masteruser) with the chart's ACL rules, on ephemeral
127.0.0.1 ports for clients and for the cluster bus. The nodes share one CA,
one server certificate and one password per ACL user. The cluster is formed
the way the chart's in-pod bootstrap does it: CLUSTER ADDSLOTSRANGE on each
primary, CLUSTER MEET, then CLUSTER REPLICATE on each replica, as the
`cluster` ACL user. Passwords live in 0600 files; `masterauth` goes into the
node's 0600 local config, never on a command line.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.cluster
from redis import crc

from local_stack.certs import TlsFiles, generate_tls
from local_stack.redis_server import ROLES, RedisServer, free_port, local_spec
from platform_spec.model import PlatformSpec
from platform_spec.sections.redis_cluster import HASH_SLOTS
from platform_spec.settings import CLUSTER_KWARG

# The ACL user of the cluster's own operations (chart: redis/_config.tpl).
CLUSTER_USER = "cluster"


def cluster_spec(shards: int = 3, replicas: int = 1, **overrides: Any) -> PlatformSpec:
    """A dev spec in `redis.mode: cluster` with TLS, auth and persistence on.

    The node timeout is short (1.5 s) so a drill's failover takes seconds.
    """
    redis_section = overrides.pop("redis", {})
    cluster = {
        "shards": max(shards, 3),  # the spec's floor; local clusters may be smaller
        "replicasPerShard": replicas,
        "nodeTimeoutMs": 1500,
        **redis_section.pop("cluster", {}),
    }
    redis_section = {"auth": {"adminEnabled": True}, **redis_section}
    redis_section.update(mode="cluster", cluster=cluster)
    return local_spec(redis=redis_section, **overrides)


def key_slot(key: str) -> int:
    """The hash slot of a key (CRC16 of its hash tag), as Redis computes it."""
    return int(crc.key_slot(key.encode()))


def slot_ranges(shards: int) -> list[tuple[int, int]]:
    """Equal, contiguous shares of the 16384 slots: (first, last) per shard."""
    bounds = [round(i * HASH_SLOTS / shards) for i in range(shards + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(shards)]


@dataclass
class ClusterNode(RedisServer):
    """One node: a RedisServer whose local config adds the bus port and masterauth."""

    bus_port: int = 0
    admin_role: str = CLUSTER_USER

    def _local_overrides(self, chart_conf: Path) -> str:
        text = super()._local_overrides(chart_conf)
        if not self.bus_port:
            self.bus_port = free_port()
        lines = [
            # Ephemeral client ports go up to ~61000: port + 10000 may not exist.
            f"cluster-port {self.bus_port}",
            "cluster-announce-ip 127.0.0.1",
        ]
        if self.spec.redis.auth.enabled:
            lines.append(f"masterauth {self.passwords[CLUSTER_USER]}")
        return text + "\n".join(lines) + "\n"

    def admin(self, **extra: Any) -> redis.Redis:
        """A client of this node alone, as the `cluster` user."""
        return redis.Redis(
            **self.connection_kwargs(self.admin_role), decode_responses=True, **extra
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class RedisClusterStack:
    """`shards` primaries with `replicas` replicas each, in `state_dir/node-<i>`."""

    state_dir: Path
    spec: PlatformSpec = field(default_factory=cluster_spec)
    shards: int = 3
    replicas: int = 1
    nodes: list[ClusterNode] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    tls: TlsFiles | None = None

    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        self.tls = self.tls or generate_tls(self.state_dir / "tls")
        pw_dir = self.state_dir / "passwords"
        pw_dir.mkdir(exist_ok=True)
        for role in (*ROLES, CLUSTER_USER):
            path = pw_dir / role
            if not path.exists():
                path.write_text(secrets.token_urlsafe(24))
                path.chmod(0o600)
            self.passwords[role] = path.read_text().strip()
        for i in range(self.shards * (1 + self.replicas)):
            node_dir = self.state_dir / f"node-{i}"
            (node_dir / "passwords").mkdir(parents=True, exist_ok=True)
            for role, password in self.passwords.items():
                target = node_dir / "passwords" / role
                target.write_text(password)
                target.chmod(0o600)
            node = ClusterNode(node_dir, spec=self.spec, tls=self.tls)
            node.passwords.update(self.passwords)
            self.nodes.append(node)

    @property
    def primaries(self) -> list[ClusterNode]:
        """The nodes started as primaries (a failover may have swapped roles since)."""
        return self.nodes[: self.shards]

    @property
    def password_dir(self) -> Path:
        return self.state_dir / "passwords"

    def start(self, timeout: float = 60.0, progress: Callable[[str], None] | None = None) -> None:
        """Start every node, form the cluster, wait until every slot is served."""
        say = progress or (lambda _msg: None)
        if not self.nodes:
            self.prepare()
        for node in self.nodes:
            node.start()
        say(f"started {len(self.nodes)} redis-server nodes; forming the cluster")
        self._form(timeout)
        say(f"cluster ok: {self.shards} shards x {1 + self.replicas} nodes")

    def _form(self, timeout: float) -> None:
        first = self.nodes[0]
        with first.admin() as client:
            if client.execute_command("CLUSTER INFO").get("cluster_state") == "ok":
                return  # formed before (nodes.conf on each data dir): restarted nodes rejoin
        for node, (lo, hi) in zip(self.primaries, slot_ranges(self.shards), strict=True):
            with node.admin() as client:
                client.execute_command("CLUSTER ADDSLOTSRANGE", lo, hi)
        with first.admin() as client:
            for node in self.nodes[1:]:
                client.execute_command("CLUSTER MEET", "127.0.0.1", node.port, node.bus_port)
        self._wait(lambda: all(len(self._known(n)) == len(self.nodes) for n in self.nodes), timeout)
        for i, node in enumerate(self.nodes[self.shards :]):
            primary = self.primaries[i % self.shards]
            primary_id = self.node_id(primary)
            with node.admin() as client:
                client.execute_command("CLUSTER REPLICATE", primary_id)
        self.wait_healthy(timeout)

    def _known(self, node: ClusterNode) -> dict[str, Any]:
        """CLUSTER NODES as redis-py parses it: `ip:port` -> node_id, flags, slots."""
        with node.admin() as client:
            return dict(client.execute_command("CLUSTER NODES"))

    def node_id(self, node: ClusterNode) -> str:
        with node.admin() as client:
            return str(client.execute_command("CLUSTER MYID"))

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Every live node reports cluster_state ok and every replica's link is up."""
        self._wait(self.healthy, timeout)

    def healthy(self) -> bool:
        for node in self.nodes:
            if not node.alive:
                continue
            try:
                with node.admin(socket_timeout=2) as client:
                    if client.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                        return False
                    info = client.info("replication")
                    if info.get("role") == "slave" and info.get("master_link_status") != "up":
                        return False
            except redis.RedisError:
                return False
        return True

    @staticmethod
    def _wait(check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise TimeoutError(f"redis cluster not ready after {timeout}s")

    def primary_of(self, key: str) -> ClusterNode:
        """The node that serves `key`'s slot now, as a live node's slot map says."""
        slot = key_slot(key)
        with self.seed.admin() as client:
            for lo, hi, (_host, port, *_), *_replicas in client.execute_command("CLUSTER SLOTS"):
                if lo <= slot <= hi:
                    return next(n for n in self.nodes if n.port == int(port))
        raise KeyError(f"slot {slot} of {key!r} is not served")

    def queue_primary(self, queue: str) -> ClusterNode:
        """The node that holds `queue`'s keys now (its hash tag's slot)."""
        return self.primary_of(self.spec.queue_keys(queue).wait)

    def restart_dead_nodes(self) -> list[int]:
        """Start again every node whose process died (as the kubelet would); their ports.

        A restarted node keeps nodes.conf in its data dir: it rejoins, as a replica when
        its replica was promoted meanwhile."""
        revived = []
        for node in self.nodes:
            if node.process is not None and node.process.poll() is not None:
                node.stop()  # closes our end of its stderr pipe
                node.start()
                revived.append(node.port)
        return revived

    def stop(self, *, kill: bool = False) -> None:
        for node in self.nodes:
            node.stop(kill=kill)

    # ------------------------------------------------------------ clients

    @property
    def port(self) -> int:
        """The seed node's client port (clients discover the others from it)."""
        return self.seed.port

    @property
    def seed(self) -> ClusterNode:
        """A live node to start discovery from."""
        return next(n for n in self.nodes if n.alive)

    def connection_kwargs(self, role: str = "worker") -> dict[str, Any]:
        """redis-py kwargs for one ACL user with the cluster marker (workers/connection.py)."""
        return {**self.seed.connection_kwargs(role), CLUSTER_KWARG: True}

    def client(self, role: str = CLUSTER_USER) -> redis.cluster.RedisCluster:
        """A blocking RedisCluster client (decoded) as `role`."""
        kwargs = self.seed.connection_kwargs(role)
        return redis.cluster.RedisCluster(
            **kwargs, decode_responses=True, require_full_coverage=False
        )

    def env(self, role: str = "worker") -> dict[str, str]:
        """Env vars of a worker/scheduler process on this cluster (password by file)."""
        return {**self.seed.env(role), "BULLMQ_PLATFORM_REDIS_CLUSTER": "true"}

    def redis_cli(self, *args: str, node: ClusterNode | None = None) -> str:
        """Run redis-cli (TLS, `cluster` user, password via REDISCLI_AUTH) and return stdout."""
        assert self.tls is not None
        target = node or self.seed
        argv = ["redis-cli", "--tls", "--cacert", str(self.tls.ca_cert), "--user", CLUSTER_USER]
        done = subprocess.run(
            [*argv, "-h", "127.0.0.1", "-p", str(target.port), *args],
            env={"REDISCLI_AUTH": self.passwords[CLUSTER_USER], "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        return done.stdout
