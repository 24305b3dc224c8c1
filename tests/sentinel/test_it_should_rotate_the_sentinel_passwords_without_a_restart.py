"""Sentinel-mode passwords rotate live: Sentinel users, auth-pass, sentinel-pass, masterauth.

Three redis-servers and three Sentinels (the chart's config) with the chart's
reloader beside each node (files/redis-reloader.sh, as the pod's sidecar). The
`replication`, `sentinel` and `worker` passwords rotate the way a Secret does:
new current, old in `previous/`, then `previous/` emptied. Before, the Sentinels'
own users, their `auth-pass` / `sentinel-pass` and the replicas' `masterauth`
kept the pod-start passwords: once the old ones were dropped a replica could not
log in to its primary again, nor a Sentinel to the nodes. Shown here with the
same processes throughout: every replication and Sentinel connection is cut
after the cut-over, the replicas sync again, and a failover still promotes a
replica that then takes writes.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from local_stack.redis_server import RedisServer
from local_stack.sentinel_cluster import HOST, SentinelCluster, SentinelProcess

pytestmark = [pytest.mark.redis, pytest.mark.slow]
ROTATED = ("replication", "sentinel", "worker")
TIMEOUT = 60.0
# Each look opens 15 TLS connections: look less often, leave the CPU to the reloaders.
PAUSE = 0.5


def write_like_the_kubelet(path: Path, text: str) -> None:
    """Replace a mounted Secret file in one step (the kubelet swaps a symlink)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text)
    tmp.chmod(0o600)
    os.replace(tmp, path)


def on_node(node: RedisServer, user: str, password: str) -> redis.Redis:
    kwargs = {**node.connection_kwargs("admin"), "username": user, "password": password}
    # No retries: redis-py retries a refused AUTH (a ConnectionError) with backoff.
    return redis.Redis(**kwargs, socket_timeout=5, retry=Retry(NoBackoff(), 0))


def on_sentinel(
    cluster: SentinelCluster, sentinel: SentinelProcess, user: str, pw: str
) -> redis.Redis:
    tls = cluster.nodes[0].tls
    assert tls is not None
    return redis.Redis(
        host=HOST,
        port=sentinel.port,
        username=user,
        password=pw,
        ssl=True,
        ssl_ca_certs=str(tls.ca_cert),
        socket_timeout=5,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )


def takes(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def everywhere(cluster: SentinelCluster, passwords: dict[str, str]) -> list[bool]:
    """Whether each data node and Sentinel lets each rotated user in with `passwords`."""
    seen = [
        takes(on_node(node, user, passwords[user]))
        for node in cluster.nodes
        for user in ("replication", "sentinel", "worker")
    ]
    seen += [
        takes(on_sentinel(cluster, sentinel, user, passwords[user]))
        for sentinel in cluster.sentinels
        for user in ("sentinel", "worker")
    ]
    return seen


def sentinel_pass_of(cluster: SentinelCluster, sentinel: SentinelProcess, pw: str) -> str:
    client = on_sentinel(cluster, sentinel, "sentinel", pw)
    try:
        reply = client.execute_command("SENTINEL", "CONFIG", "GET", "sentinel-pass")
    except redis.RedisError:
        return ""
    finally:
        client.close()
    if isinstance(reply, dict):  # redis-py maps the reply
        return str(reply.get("sentinel-pass", ""))
    return str(reply[1]) if isinstance(reply, list) and len(reply) == 2 else ""


def synced(cluster: SentinelCluster) -> bool:
    """The primary counts every replica online again (each logged in with masterauth)."""
    try:
        client = redis.Redis(**cluster.primary().connection_kwargs("admin"), socket_timeout=2)
        info = client.info("replication")
        client.close()
    except (redis.RedisError, LookupError):
        return False
    online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    return len(online) == len(cluster.nodes) - 1 and all(r.get("state") == "online" for r in online)


def test_it_should_rotate_the_sentinel_passwords_without_a_restart(
    sentinels: SentinelCluster,
) -> None:
    cluster = sentinels
    first = cluster.nodes[0]
    cluster.start_reloaders(interval_seconds=1)
    pids = [n.process.pid for n in cluster.nodes if n.process] + [
        s.process.pid for s in cluster.sentinels if s.process
    ]
    old = {user: first.passwords[user] for user in ROTATED}
    new = {user: secrets.token_urlsafe(24) for user in ROTATED}
    logs = cluster.reloader_logs
    marks: dict[str, float] = {}
    started = time.monotonic()

    # Step 1: new passwords current, the old ones kept as previous.
    for user in ROTATED:
        write_like_the_kubelet(first.password_dir / "previous" / user, old[user])
        write_like_the_kubelet(first.password_dir / user, new[user])
    cluster.wait_for(
        lambda: all(everywhere(cluster, new)), TIMEOUT, f"new passwords\n{logs()}", PAUSE
    )
    marks["new_taken_everywhere"] = time.monotonic() - started
    assert all(everywhere(cluster, old)), "the old passwords must work until the cut-over"
    cluster.wait_for(
        lambda: all(
            sentinel_pass_of(cluster, s, new["sentinel"]) == new["sentinel"]
            for s in cluster.sentinels
        ),
        TIMEOUT,
        f"every Sentinel to log in to its peers with the new password\n{logs()}",
    )

    marks["sentinels_switched"] = time.monotonic() - started
    # Step 2: the cut-over: the old passwords are refused everywhere.
    started = time.monotonic()
    for user in ROTATED:
        (first.password_dir / "previous" / user).unlink()
    cluster.wait_for(
        lambda: not any(everywhere(cluster, old)),
        TIMEOUT,
        f"old passwords refused\n{logs()}",
        PAUSE,
    )

    marks["old_refused_everywhere"] = time.monotonic() - started
    # Every replication and Sentinel connection logs in again, with what it holds now.
    started = time.monotonic()
    for node in cluster.nodes:
        admin = redis.Redis(**node.connection_kwargs("admin"), socket_timeout=5)
        for user in ("replication", "sentinel"):
            admin.execute_command("CLIENT", "KILL", "USER", user)
        admin.close()
    for sentinel in cluster.sentinels:
        client = on_sentinel(cluster, sentinel, "sentinel", new["sentinel"])
        client.execute_command("CLIENT", "KILL", "USER", "sentinel")
        client.close()
    cluster.wait_for(lambda: synced(cluster), TIMEOUT, f"replicas to sync again\n{logs()}")

    marks["replicas_synced_again"] = time.monotonic() - started
    # A failover: the Sentinels promote a replica; the other nodes follow it (masterauth).
    started = time.monotonic()
    before = cluster.primary()
    client = on_sentinel(cluster, cluster.sentinels[0], "sentinel", new["sentinel"])
    assert client.execute_command("SENTINEL", "FAILOVER", cluster.master_name)
    client.close()
    cluster.wait_for(
        lambda: cluster.primary_port() not in (None, before.port), TIMEOUT, "a new primary"
    )
    cluster.wait_for(lambda: cluster.role(before) == "slave", TIMEOUT, "the old one to follow")
    cluster.wait_for(cluster.writable, TIMEOUT, f"the new primary to take writes\n{logs()}")
    cluster.wait_for(lambda: synced(cluster), TIMEOUT, f"every replica to follow\n{logs()}")
    marks["failover_writable_and_synced"] = time.monotonic() - started
    print(
        "[drill] Sentinel password rotation, seconds:", {k: round(v, 1) for k, v in marks.items()}
    )
    worker = on_node(cluster.primary(), "worker", new["worker"])
    assert worker.set("bull:rotation-check", "1")
    worker.close()
    assert [n.process.pid for n in cluster.nodes if n.process] + [
        s.process.pid for s in cluster.sentinels if s.process
    ] == pids, "no Redis or Sentinel process was restarted"
