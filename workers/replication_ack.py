"""Acknowledged enqueues that survive a failover: `WAIT n timeout` after each add.

Redis replicates asynchronously: an add the primary acknowledged just before it
died may never reach the replica that Sentinel promotes. A producer that sends
`WAIT n` on the same connection right after the add learns whether n replicas
hold it; fewer means the add is reported failed (and may be retried with the
same job id, which BullMQ deduplicates). `redis.sentinel.waitReplicas` sets n.

On a Redis Cluster (`redis.cluster.waitReplicas`) the client pools connections
per node, so the add runs with its connections held (`pinned_connections`) and
WAIT goes on the very connection to the slot's owner that made the add.

WAIT is sent once, on the very connection the add used, never retried: the
client's own retry would reconnect through Sentinel after a failover and ask the
promoted replica, which answers for its own writes, not for the lost add. A
dropped connection (or one that was re-made since the add) is "not replicated".
"""

from __future__ import annotations

import contextlib
from typing import Any

from bullmq import Job
from bullmq import Queue as BullQueue
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from platform_spec.model import PlatformSpec
from platform_spec.sections.redis_sentinel import wait_policy
from workers.cluster_client import Pins, pinned_connections


class NotReplicated(RuntimeError):
    """Fewer replicas than asked for acknowledged a write in time."""


async def _wait_on(conn: Any, replicas: int, timeout_ms: int) -> int:
    """WAIT on one connection that made the write: how many replicas acknowledged it."""
    try:
        await conn.send_command("WAIT", replicas, timeout_ms, check_health=False)
        return int(await conn.read_response())
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        with contextlib.suppress(Exception):
            await conn.disconnect()
        raise NotReplicated(
            f"the connection dropped during WAIT ({type(exc).__name__}): unknown whether "
            "any replica holds the write"
        ) from None


async def wait_replicas(client: Any, replicas: int, timeout_ms: int) -> int:
    """WAIT on `client`'s connection (it must be a single-connection client: WAIT
    counts the writes of the connection it runs on); NotReplicated when short."""
    if replicas <= 0:
        return 0
    conn = getattr(client, "connection", None)
    if conn is None:
        raise TypeError("WAIT needs a single-connection client: it counts that connection's writes")
    lock = getattr(client, "_single_conn_lock", None)
    async with lock if lock is not None else contextlib.nullcontext():
        if not conn.is_connected:
            # Dropped (and maybe about to be re-made to another primary) since the add.
            raise NotReplicated("the connection that made the write dropped before WAIT")
        acked = await _wait_on(conn, replicas, timeout_ms)
    if acked < replicas:
        raise NotReplicated(
            f"{acked} of {replicas} replica(s) acknowledged the write within {timeout_ms} ms"
        )
    return acked


def spec_wait_policy(spec: PlatformSpec) -> tuple[int, int]:
    """(replicas, timeout ms) of `redis.sentinel.waitReplicas` (`redis.cluster.waitReplicas`
    on a Redis Cluster) for this deployment."""
    redis = spec.redis
    if redis.is_cluster:
        cluster = redis.cluster
        replicas = cluster.effective_wait_replicas(spec.environment)
        return (replicas, cluster.wait_timeout_milliseconds) if replicas else (0, 0)
    return wait_policy(spec.environment, redis.mode, redis.sentinel, redis.external.sentinel)


async def add_acknowledged(
    queue: BullQueue, name: str, data: Any, opts: dict[str, Any], policy: tuple[int, int]
) -> Job:
    """`queue.add`, then WAIT for `policy` replicas on the queue's own connection.

    The queue's client must be single-connection (bullmq's own from a kwargs dict,
    or `bullmq_connection_arg`'s default), so WAIT counts this add."""
    replicas, timeout_ms = policy
    client = queue.client
    if replicas > 0 and isinstance(client, RedisCluster):
        await client.initialize()  # the slot map first (a no-op once known)
        # The add's commands on one held connection per node, WAIT on the owner's.
        async with pinned_connections() as pins:
            job = await queue.add(name, data, opts)
            await wait_replicas_pinned(pins, replicas, timeout_ms)
        return job
    job = await queue.add(name, data, opts)
    await wait_replicas(client, replicas, timeout_ms)
    return job


async def wait_replicas_pinned(pins: Pins, replicas: int, timeout_ms: int) -> int:
    """WAIT on each connection a pinned add wrote on (Redis Cluster: the slot owner's);
    NotReplicated when short, or when a redirect sent the add elsewhere."""
    if pins.unpinned:
        raise NotReplicated(
            "the add was redirected (slot moving or failing over): unknown whether any "
            f"replica holds it ({pins.last_error or 'no error on the held connection'})"
        )
    if not pins.held:
        raise NotReplicated("the add wrote on no connection WAIT could ask")
    acked = replicas
    for _node, conn in pins.held.values():
        acked = min(acked, await _wait_on(conn, replicas, timeout_ms))
    if acked < replicas:
        raise NotReplicated(
            f"{acked} of {replicas} replica(s) of the queue's shard acknowledged the write "
            f"within {timeout_ms} ms"
        )
    return acked
