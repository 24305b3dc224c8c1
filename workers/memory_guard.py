"""Refuse producers before Redis is full, so workers can still drain.

With `noeviction` Redis refuses every write once memory is over maxmemory,
and a worker's fetch (wait -> active) is a write: a Redis filled to the brim
by producers stops draining too (issue 25, item 3). The platform therefore
refuses its producers at `redis.producerMemoryLimitPercent` of maxmemory and
keeps the rest as a reserve for the workers' fetches, finishes and DLQ
entries. The limit is read from Redis itself (`INFO memory`: used_memory and
maxmemory), so it holds for a managed Redis too; maxmemory 0 means no limit.
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
            memory = await self.client.info("memory")
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
