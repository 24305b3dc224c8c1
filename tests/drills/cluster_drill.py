"""Pieces of the Redis Cluster drills: a spec over several queues, a durable producer,
and per-queue counts read from the node that owns each queue.

The producer adds a batch to the node that owns the queue's slot now, on one
connection, then sends `WAIT 1`: Redis Cluster replicates asynchronously, so an
add is kept through a failover only once a replica has it. A batch that fails or
is not confirmed is sent again with the same job ids (BullMQ ignores an id it
already has), so `sent` counts only jobs that are safe, and a lost job is one
the platform lost, not one the drill never really handed over.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
from bullmq import Queue as BullQueue
from drill_handlers import keys
from drill_support import FAST_WORKER_ENV, HANDLERS

from local_stack.redis_cluster import RedisClusterStack, cluster_spec
from platform_spec.model import PlatformSpec

__all__ = ["FAST_WORKER_ENV"]

BATCH = 20
WAIT_TIMEOUT_MS = 2000


def cluster_drill_spec(queues: list[str], **cluster: Any) -> PlatformSpec:
    """A dev cluster-mode spec whose queues are served by drill_handlers, every job kept."""
    return cluster_spec(
        redis={"cluster": cluster},
        fullnameOverride=f"d-{uuid.uuid4().hex[:10]}",
        queues=[
            {
                "name": name,
                "handler": HANDLERS,
                "jobs": [{"name": "work"}, {"name": "tick"}],
                "concurrency": 8,
                # A handler's own Redis call can meet a slot in migration (ASK/TRYAGAIN
                # inside its MULTI) during a reshard: retried, as production's attempts do.
                "attempts": 5,
                "backoff": {"type": "fixed", "delayMs": 200},
                "jobTimeoutSeconds": 20,
                "terminationGracePeriodSeconds": 30,
                "removeOnComplete": {"count": 10_000},
            }
            for name in queues
        ],
        schedules=[],
        maintenanceQueue=queues[0],
    )


@dataclass
class QueueFeed:
    """One queue's producer state: the next job number, what is safe, what failed."""

    queue: str
    sent: int = 0
    errors: int = 0
    unconfirmed: int = 0
    # monotonic times of batches Redis accepted (confirmed by a replica or not yet):
    # when the queue was writable. A new primary has no replica until one rejoins.
    accepted_at: list[float] = field(default_factory=list)


class DurableProducer:
    """Adds `work` jobs (ids `j<n>`) in batches, each confirmed by `WAIT 1`."""

    def __init__(
        self,
        stack: RedisClusterStack,
        spec: PlatformSpec,
        queues: list[str],
        *,
        wait_replicas: int = 1,
    ) -> None:
        self.stack = stack
        self.spec = spec
        self.feeds = {q: QueueFeed(q) for q in queues}
        self.wait_replicas = wait_replicas  # 0: a cluster without replicas (no WAIT)

    def feed(self, queue: str, count: int = BATCH) -> bool:
        """Send the next batch of `queue`; True when it is confirmed on a replica."""
        state = self.feeds[queue]
        try:
            confirmed = asyncio.run(asyncio.wait_for(self._add(queue, state.sent, count), 10))
        except (redis.RedisError, OSError, KeyError, StopIteration, TimeoutError):
            state.errors += 1
            return False
        state.accepted_at.append(time.monotonic())
        if not confirmed:  # sent again, same ids, until a replica holds it
            state.unconfirmed += 1
            return False
        state.sent += count
        return True

    async def _add(self, queue: str, first: int, count: int) -> bool:
        node = self.stack.queue_primary(queue)
        if not node.alive:  # the slot map still names the killed node: not promoted yet
            raise redis.ConnectionError(f"{queue}: its primary is down")
        # One connection (bullmq's own client for a dict): WAIT covers its writes.
        conn = {**node.connection_kwargs("worker"), "socket_timeout": 5}
        producer = BullQueue(queue, {"connection": conn, "prefix": self.spec.queue_prefix(queue)})
        try:
            batch = [
                {"name": "work", "data": {"seconds": 0.0}, "opts": {"jobId": f"j{n}"}}
                for n in range(first, first + count)
            ]
            await producer.addBulk(batch)
            if not self.wait_replicas:
                return True
            client = producer.backend.connection.conn
            replicas = await client.execute_command("WAIT", self.wait_replicas, WAIT_TIMEOUT_MS)
            return int(replicas) >= self.wait_replicas
        finally:
            await asyncio.wait_for(producer.close(), 5)


def done(stack: RedisClusterStack, spec: PlatformSpec, queue: str) -> tuple[set[str], int]:
    """Distinct `work` jobs done and total executions, read on the queue's node."""
    k = keys(spec.queue_prefix(queue), queue)
    with stack.queue_primary(queue).admin(socket_timeout=5) as client:
        ids = {i for i in client.smembers(k["done"]) if i.startswith("j")}
        runs = {i: int(n) for i, n in client.hgetall(k["runs"]).items() if i.startswith("j")}
    return ids, sum(runs.values())


def pending(stack: RedisClusterStack, spec: PlatformSpec, queue: str) -> int:
    """Jobs not finished: wait + active + prioritized + delayed (0 when none is stuck)."""
    qk = spec.queue_keys(queue)
    with stack.queue_primary(queue).admin(socket_timeout=5) as client:
        pipe = client.pipeline(transaction=False)
        pipe.llen(qk.wait)
        pipe.llen(qk.active)
        pipe.zcard(qk.prioritized)
        pipe.zcard(qk.delayed)
        return sum(int(n) for n in pipe.execute())


def describe(stack: RedisClusterStack, spec: PlatformSpec, producer: DurableProducer) -> str:
    """Each queue's sent / done / per-key pending counts, for a failure message."""
    parts = []
    for queue, feed in producer.feeds.items():
        qk = spec.queue_keys(queue)
        try:
            ids, _ = done(stack, spec, queue)
            with stack.queue_primary(queue).admin(socket_timeout=5) as client:
                counts = {
                    "wait": client.llen(qk.wait),
                    "active": client.llen(qk.active),
                    "prioritized": client.zcard(qk.prioritized),
                    "delayed": client.zcard(qk.delayed),
                    "failed": client.zcard(qk.failed),
                }
                failed = client.zrange(qk.failed, 0, 2)
                reasons = [client.hget(qk.job(i), "failedReason") for i in failed]
            parts.append(f"{queue}: sent={feed.sent} done={len(ids)} {counts} {reasons}")
        except (redis.RedisError, OSError, KeyError) as exc:
            parts.append(f"{queue}: unreadable ({exc})")
    return "; ".join(parts)


def settled(stack: RedisClusterStack, spec: PlatformSpec, producer: DurableProducer) -> bool:
    """Every queue: all sent jobs done and nothing pending (errors read as not yet)."""
    try:
        for queue, feed in producer.feeds.items():
            ids, _ = done(stack, spec, queue)
            if len(ids) < feed.sent or pending(stack, spec, queue):
                return False
        return True
    except (redis.RedisError, OSError, KeyError):
        return False
