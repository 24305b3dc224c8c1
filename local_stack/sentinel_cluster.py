"""A primary, its replicas and a Sentinel beside each, on 127.0.0.1, as the chart runs them.

Every node runs the chart's own redis.conf (the ConfigMap rendered for
`redis.mode: sentinel`), the chart's ACL file, and the chart's `sentinel-node.sh`
to write its replication.conf and sentinel.conf; only paths, bind address and
ports differ from a pod. One CA and one server certificate (valid for 127.0.0.1)
serve all nodes and Sentinels; passwords live in 0600 files, never on a command
line. Used by `scripts/local --redis sentinel` and by the failover drills.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from local_stack.lifetime import die_with_parent
from local_stack.redis_server import RedisServer, free_port, local_spec
from platform_spec.model import PlatformSpec

HOST = "127.0.0.1"
# Data-node users that may ask the Sentinels for the primary (their own passwords).
SENTINEL_CLIENTS = ("worker", "scheduler", "keda", "exporter", "admin", "dashboard")


def sentinel_spec(**redis_overrides: Any) -> PlatformSpec:
    """A dev spec in `redis.mode: sentinel` with failover tuned for a laptop."""
    sentinel = {"downAfterMilliseconds": 4000, "failoverTimeoutMilliseconds": 3000}
    sentinel.update(redis_overrides.pop("sentinel", {}))
    redis_section = {
        "mode": "sentinel",
        "auth": {"adminEnabled": True},
        "sentinel": sentinel,
        **redis_overrides,
    }
    return local_spec(redis=redis_section, keda={"scaler": "redis"})


def sentinel_argv(config: Path) -> list[str]:
    """Debian's `redis-sentinel`, else `redis-server --sentinel` (the same binary)."""
    if shutil.which("redis-sentinel"):
        return ["redis-sentinel", str(config)]
    return ["redis-server", str(config), "--sentinel"]


@dataclass
class SentinelProcess:
    """One Sentinel: its folder, port and process."""

    state_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_file(self) -> Path:
        return self.state_dir / "sentinel.conf"

    def start(self) -> None:
        self.process = subprocess.Popen(
            sentinel_argv(self.config_file),
            cwd=self.state_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, kill: bool = False) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.kill() if kill else self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class SentinelCluster:
    """`nodes` redis-servers (node 0 starts as primary) and a Sentinel beside each."""

    state_dir: Path
    spec: PlatformSpec = field(default_factory=sentinel_spec)
    nodes: list[RedisServer] = field(default_factory=list)
    sentinels: list[SentinelProcess] = field(default_factory=list)

    @property
    def master_name(self) -> str:
        return self.spec.redis.sentinel.master_name

    # ------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """Render the chart's files once, then give every node and Sentinel its folder."""
        if self.spec.redis.mode != "sentinel":
            raise ValueError("redis.mode must be `sentinel` for a SentinelCluster")
        count = self.spec.redis.sentinel.replicas + 1
        first = RedisServer(self.state_dir / "node-0", spec=self.spec)
        first.prepare()
        self.nodes = [first]
        for index in range(1, count):
            node = RedisServer(self.state_dir / f"node-{index}", spec=self.spec)
            node.state_dir.mkdir(parents=True, exist_ok=True)
            (node.state_dir / "data").mkdir(exist_ok=True)
            node.port = free_port()
            node.tls = first.tls
            node.passwords = first.passwords
            self.nodes.append(node)
        self.sentinels = [
            SentinelProcess(self.state_dir / f"sentinel-{i}", free_port()) for i in range(count)
        ]
        for node, sentinel in zip(self.nodes, self.sentinels, strict=True):
            self._write_node(node, sentinel)

    def _write_node(self, node: RedisServer, sentinel: SentinelProcess) -> None:
        first = self.nodes[0]
        assert first.tls is not None
        conf_dir = first.state_dir / "conf"
        subprocess.run(
            [
                "sh",
                str(conf_dir / "sentinel-node.sh"),
                str(conf_dir),
                str(first.password_dir),
                HOST,
                str(node.port),
                str(sentinel.port),
                HOST,
                str(first.port),
                str(node.state_dir),
                *SENTINEL_CLIENTS,
            ],
            check=True,
            capture_output=True,
            # The Sentinel's `reloader` user (the pod-local password), as the chart's init.
            env={**os.environ, "RELOADER_PASSWORD_FILE": str(first.local_dir / "reloader")},
        )
        tls = first.tls
        node.config_file.write_text(
            "\n".join(
                [
                    "# Local overrides of the chart's redis.conf: paths, bind and port only.",
                    f"include {conf_dir / 'redis.conf'}",
                    "bind 127.0.0.1",
                    f"logfile {node.log_file}",
                    "daemonize no",
                    f"tls-port {node.port}",
                    f"tls-cert-file {tls.server_cert}",
                    f"tls-key-file {tls.server_key}",
                    f"tls-ca-cert-file {tls.ca_cert}",
                    f"aclfile {first.acl_file}",
                    f"include {node.state_dir / 'replication.conf'}",
                ]
            )
            + "\n"
        )
        node.config_file.chmod(0o600)
        # The chart's sentinel.conf, with this machine's paths and ports.
        sentinel.state_dir.mkdir(parents=True, exist_ok=True)
        seeded = (node.state_dir / "sentinel.conf").read_text()
        local = seeded.replace("/etc/redis/tls/tls.crt", str(tls.server_cert))
        local = local.replace("/etc/redis/tls/tls.key", str(tls.server_key))
        local = local.replace("/etc/redis/tls/ca.crt", str(tls.ca_cert))
        local = local.replace("bind * -::*", "bind 127.0.0.1")
        local = local.replace(
            f"tls-port {self.spec.redis.sentinel.port}", f"tls-port {sentinel.port}"
        )
        local += f"logfile {sentinel.state_dir / 'sentinel.log'}\n"
        sentinel.config_file.write_text(local)
        sentinel.config_file.chmod(0o600)

    # ------------------------------------------------------------ life cycle

    def start(self, timeout: float = 30.0) -> None:
        """Start every node and Sentinel; wait until each Sentinel sees the whole set."""
        if not self.nodes:
            self.prepare()
        for node in self.nodes:
            node.start()
        for sentinel in self.sentinels:
            sentinel.start()
        expected = len(self.nodes) - 1
        self.wait_for(
            lambda: all(self._sees(s, expected) for s in self.sentinels),
            timeout,
            "every Sentinel to see the primary, its replicas and its peers",
        )
        self.wait_for(self.writable, timeout, "the primary to count enough good replicas")

    def writable(self) -> bool:
        """The primary counts as many good replicas as min-replicas-to-write asks."""
        try:
            client = redis.Redis(**self.primary().connection_kwargs("admin"), socket_timeout=2)
        except LookupError:
            return False
        try:
            info = client.info("replication")
        except redis.RedisError:
            return False
        finally:
            client.close()
        good = int(info.get("min_slaves_good_slaves", len(self.nodes) - 1))
        return good >= self.spec.redis.sentinel.min_replicas_to_write

    def _sees(self, sentinel: SentinelProcess, others: int) -> bool:
        if not sentinel.alive():
            return False
        client = self.sentinel_client(sentinel)
        try:
            state = client.sentinel_master(self.master_name)
        except redis.RedisError:
            return False
        finally:
            client.close()
        assert isinstance(state, dict)
        return (
            int(state.get("num-slaves", 0)) >= others
            and int(state.get("num-other-sentinels", 0)) >= others
        )

    def start_reloaders(self, interval_seconds: int = 1) -> None:
        """The chart's redis-reloader.sh beside every node, as each pod's sidecar, with
        the Sentinel beside it (its users, auth-pass, sentinel-pass) and masterauth.

        The nodes share node 0's password files and ACL file; each reloader gets its own
        copy of the pod-local passwords (its state folder lives there)."""
        first = self.nodes[0]
        peers = " ".join(f"{HOST}:{n.port}" for n in self.nodes)
        sentinel_peers = " ".join(f"{HOST}:{s.port}" for s in self.sentinels)
        for node, sentinel in zip(self.nodes, self.sentinels, strict=True):
            local = first.local_dir
            if node is not first:
                local = node.state_dir / "local"
                local.mkdir(mode=0o700, exist_ok=True)
                for user in ("exporter", "reloader"):
                    shutil.copy2(first.local_dir / user, local / user)
            node.start_reloader(
                interval_seconds,
                files_of=first,
                local_dir=local,
                extra_env={
                    "SENTINEL_PORT": str(sentinel.port),
                    "SENTINEL_MASTER": self.master_name,
                    "SENTINEL_CLIENT_USERS": " ".join(SENTINEL_CLIENTS),
                    "PEER_NODES": peers,
                    "SENTINEL_PEERS": sentinel_peers,
                    "NODE_CONF": str(node.state_dir / "replication.conf"),
                },
            )

    def reloader_logs(self) -> str:
        """Every node's reloader log (no secrets: the reloader never prints one)."""
        return "\n".join(f"--- node {n.port}\n{n.reloader_log()}" for n in self.nodes)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes:
            node.stop()
            if node.process is not None and node.process.stderr is not None:
                node.process.stderr.close()  # a node killed by a drill left its pipe open

    @staticmethod
    def wait_for(condition: Any, timeout: float, what: str, pause: float = 0.1) -> None:
        """Poll `condition` every `pause` s until true; TimeoutError naming `what` after
        `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(pause)
        raise TimeoutError(f"gave up waiting {timeout:.0f}s for {what}")

    # ------------------------------------------------------------ who is who

    def sentinel_client(self, sentinel: SentinelProcess, role: str = "admin") -> redis.Redis:
        first = self.nodes[0]
        assert first.tls is not None
        return redis.Redis(
            host=HOST,
            port=sentinel.port,
            username=role,
            password=first.passwords[role],
            ssl=True,
            ssl_ca_certs=str(first.tls.ca_cert),
            socket_timeout=2,
            decode_responses=True,
        )

    def primary_port(self) -> int | None:
        """The primary's port as a live Sentinel reports it."""
        for sentinel in self.sentinels:
            if not sentinel.alive():
                continue
            client = self.sentinel_client(sentinel)
            try:
                reply = client.sentinel_get_master_addr_by_name(self.master_name)
            except redis.RedisError:
                continue
            finally:
                client.close()
            if isinstance(reply, tuple | list):
                return int(reply[1])
        return None

    def primary(self) -> RedisServer:
        port = self.primary_port()
        for node in self.nodes:
            if node.port == port:
                return node
        raise LookupError(f"no node answers to the primary's port {port}")

    def role(self, node: RedisServer) -> str:
        """`master`, `slave` or `down`, as the node itself says."""
        try:
            client = redis.Redis(**node.connection_kwargs("admin"), socket_timeout=2)
            try:
                return str(client.role()[0], "ascii")
            finally:
                client.close()
        except redis.RedisError:
            return "down"

    def kill_primary(self, sig: int = signal.SIGKILL) -> RedisServer:
        """Send `sig` to the current primary's redis-server; return that node."""
        node = self.primary()
        assert node.process is not None
        node.process.send_signal(sig)
        return node

    # ------------------------------------------------------------ clients

    def sentinel_env(self) -> dict[str, str]:
        """What any platform process adds to follow the primary (its own user and
        password file log it in to the Sentinels too)."""
        return {
            "BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS": ",".join(
                f"{HOST}:{s.port}" for s in self.sentinels
            ),
            "BULLMQ_PLATFORM_REDIS_SENTINEL_MASTER": self.master_name,
        }

    def restart_dead_nodes(self) -> list[int]:
        """Start again every node whose process died (as the kubelet would); their ports.

        A dead primary waits until the Sentinels promoted another node: started sooner,
        it came back as a primary the Sentinels had half failed over, and clients could
        sit on it while it was being demoted.
        """
        revived: list[int] = []
        dead = [n for n in self.nodes if n.process is not None and n.process.poll() is not None]
        if not dead:
            return revived
        primary = self.primary_port()
        for node in dead:
            if primary is None or primary == node.port:
                continue
            assert node.process is not None
            if node.process.stderr is not None:
                node.process.stderr.close()
            node.start()
            revived.append(node.port)
        return revived

    def state(self) -> dict[str, Any]:
        """Ports and pids for `python -m local_stack kill-primary` (no secrets)."""
        return {
            "masterName": self.master_name,
            "nodes": [
                {"port": n.port, "pid": n.process.pid if n.process else None} for n in self.nodes
            ],
            "sentinels": [
                {"port": s.port, "pid": s.process.pid if s.process else None}
                for s in self.sentinels
            ],
        }

    def env(self, role: str = "worker") -> dict[str, str]:
        """Env vars of a worker/scheduler that follows the primary through the Sentinels."""
        first = self.nodes[0]
        env = first.env(role)
        env.update(
            BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS=",".join(
                f"{HOST}:{s.port}" for s in self.sentinels
            ),
            BULLMQ_PLATFORM_REDIS_SENTINEL_MASTER=self.master_name,
            BULLMQ_PLATFORM_REDIS_SENTINEL_USERNAME=role,
            BULLMQ_PLATFORM_REDIS_SENTINEL_PASSWORD_FILE=str(first.password_dir / role),
        )
        return env
