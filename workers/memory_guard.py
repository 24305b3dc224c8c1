"""Refuse producers before Redis is full, so workers can still drain.

With `noeviction` Redis refuses every write once memory is over maxmemory,
and a worker's fetch (wait -> active) is a write: a Redis filled to the brim
by producers stops draining too (issue 25, item 3). The platform therefore
refuses its producers at `redis.producerMemoryLimitPercent` of maxmemory and
keeps the rest as a reserve for the workers' fetches, finishes and DLQ
entries. The limit is read from Redis itself (`INFO memory`: used_memory and
maxmemory), so it holds for a managed Redis too; maxmemory 0 means no limit. On a
Redis Cluster every primary is read and the fullest one decides.
Only the memory Redis's own maxmemory check counts is compared: used_memory minus
mem_not_counted_for_evict (replica output buffers, the AOF buffer), or a replica's
full resync would refuse producers while Redis is far from full.

RedisNearlyFull subclasses redis-py's OutOfMemoryError: every path that
already copes with a full Redis (the CLI's exit 3, a handler's enqueue turned
into a deferred job) copes with the soft limit the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import OutOfMemoryError

# A reading is reused for this long: one INFO per enqueue would double a
# producer's round trips; the reserve absorbs what slips through meanwhile.
CACHE_SECONDS = 0.25
FIELD = "redis.producerMemoryLimitPercent"


class RedisNearlyFull(OutOfMemoryError):
    """Used memory is past the producers' share of maxmemory."""


def counted_memory(memory: Mapping[str, Any]) -> int:
    """Bytes Redis counts against maxmemory, from `INFO memory`."""
    used = int(memory.get("used_memory", 0))
    return max(0, used - int(memory.get("mem_not_counted_for_evict", 0)))


def over_limit(used: int, maxmemory: int, limit_percent: int) -> bool:
    """True when producers must be refused (never without a maxmemory)."""
    return maxmemory > 0 and used * 100 >= maxmemory * limit_percent


async def node_infos(redis: aioredis.Redis, section: str) -> list[dict[str, Any]]:
    """INFO <section> of every primary of a Redis Cluster (of the one Redis otherwise):
    a cluster client sends INFO to one node unless told to ask them all."""
    if isinstance(redis, RedisCluster):
        replies = await redis.info(section, target_nodes=RedisCluster.PRIMARIES)
        # Several nodes answer as {node name: INFO}; a one-node cluster as INFO itself.
        per_node = all(isinstance(v, dict) for v in replies.values())
        return list(replies.values()) if per_node else [replies]
    return [await redis.info(section)]


def fullest(memories: list[dict[str, Any]]) -> dict[str, Any]:
    """The node with the highest used/maxmemory share (the one a full Redis is about)."""

    def share(m: dict[str, Any]) -> float:
        return counted_memory(m) / max(int(m.get("maxmemory", 0)), 1)

    return max(memories, key=share)


class ProducerGuard:
    """Checks Redis's memory before a producer writes; raises RedisNearlyFull."""

    def __init__(self, client: aioredis.Redis, limit_percent: int) -> None:
        self.client = client
        self.limit_percent = limit_percent
        self._read_at = -CACHE_SECONDS
        self._used = 0
        self._max = 0

    async def check(self) -> None:
        now = time.monotonic()
        if now - self._read_at >= CACHE_SECONDS:
            # On a Redis Cluster: the fullest primary (conservative: one nearly full
            # shard refuses the platform's producers for every queue).
            memory = fullest(await node_infos(self.client, "memory"))
            self._used = counted_memory(memory)
            self._max = int(memory.get("maxmemory", 0))
            self._read_at = now
        if over_limit(self._used, self._max, self.limit_percent):
            raise RedisNearlyFull(
                f"Redis is nearly full: used memory {self._used} bytes (as maxmemory counts it) is "
                f"at or above "
                f"{self.limit_percent}% of maxmemory {self._max} ({FIELD}); producers are "
                "refused while workers drain the backlog in the reserve"
            )
