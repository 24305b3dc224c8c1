"""metrics-aggregate: per queue and UTC hour, completed/failed counts, throughput, p95.

Read from the queue's `completed` and `failed` sets (scored by finishedOn) and
each job's processedOn/finishedOn, so it covers the jobs BullMQ still keeps
(removeOnComplete/removeOnFail): a queue that keeps fewer jobs than it runs
per hour is undercounted, which the rollup says (`truncated`). Stored as one
hash per queue and hour with a TTL of scheduler.rollupRetentionSeconds,
indexed by a sorted set so retention finds them without SCAN. Re-running an
hour overwrites it (idempotent); by default the current and the previous
`windowSeconds` (1 h) are aggregated, so one missed tick loses nothing.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any, cast

import redis.asyncio as aioredis

from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from workers.maintenance.flags import flag

HOUR_MS = 3_600_000
MAX_JOBS_PER_HOUR = 100_000
FIELDS = (
    "completed",
    "failed",
    "throughput_per_second",
    "processing_seconds_avg",
    "processing_seconds_p95",
)


def hour_label(start_ms: int) -> str:
    return datetime.fromtimestamp(start_ms / 1000, tz=UTC).strftime("%Y%m%d%H")


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


async def _durations(redis: aioredis.Redis, keys: QueueKeys, ids: list[str]) -> list[float]:
    out: list[float] = []
    for i in range(0, len(ids), 500):
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in ids[i : i + 500]:
                pipe.hmget(keys.job(job_id), "processedOn", "finishedOn")
            rows = await pipe.execute()
        out += [(int(f) - int(p)) / 1000 for p, f in rows if p and f and int(f) >= int(p)]
    return out


async def rollup_hour(
    redis: aioredis.Redis, spec: PlatformSpec, queue: str, start_ms: int, now_ms: int
) -> dict[str, float]:
    end_ms = start_ms + HOUR_MS
    completed: list[str] = []
    failed = 0
    durations: list[float] = []
    # A partitioned queue's partitions, added up (one BullMQ queue otherwise).
    for keys in spec.partition_keys(queue):
        # The client decodes replies (decode_responses=True): members are str.
        ids = cast(
            list[str],
            await redis.zrangebyscore(
                keys.completed, start_ms, f"({end_ms}", start=0, num=MAX_JOBS_PER_HOUR
            ),
        )
        completed += ids
        failed += int(await redis.zcount(keys.failed, start_ms, f"({end_ms}"))
        durations += await _durations(redis, keys, list(ids))
    elapsed = max(1.0, (min(end_ms, now_ms) - start_ms) / 1000)
    return {
        "completed": float(len(completed)),
        "failed": float(failed),
        "throughput_per_second": len(completed) / elapsed,
        "processing_seconds_avg": sum(durations) / len(durations) if durations else 0.0,
        "processing_seconds_p95": p95(durations),
        "truncated": float(len(completed) >= MAX_JOBS_PER_HOUR),
        "hour_start": start_ms / 1000,
    }


async def aggregate_metrics(
    redis: aioredis.Redis, spec: PlatformSpec, payload: dict[str, Any]
) -> dict[str, Any]:
    window = int(flag(payload, "windowSeconds", "window_seconds", 3600) or 3600)
    now_ms = int(time.time() * 1000)
    current = now_ms - now_ms % HOUR_MS
    hours = [current - i * HOUR_MS for i in range(math.ceil(window / 3600) + 1)]
    pk, ttl = spec.platform_keys(), spec.scheduler.rollup_retention_seconds
    out: dict[str, dict[str, dict[str, float]]] = {}
    for queue in spec.queues:
        for start in hours:
            rollup = await rollup_hour(redis, spec, queue.name, start, now_ms)
            key = pk.rollup(queue.name, hour_label(start))
            async with redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hset(key, mapping={k: repr(v) for k, v in rollup.items()})
                pipe.expire(key, ttl)
                pipe.zadd(pk.rollup_index(queue.name), {hour_label(start): start / 1000})
                await pipe.execute()
            out.setdefault(queue.name, {})[hour_label(start)] = rollup
    return {"hours": [hour_label(h) for h in hours], "rollups": out}


async def read_rollups(
    redis: aioredis.Redis, spec: PlatformSpec, queue: str, limit: int = 24
) -> dict[str, dict[str, float]]:
    """The newest `limit` rollups of a queue, hour label -> fields."""
    pk = spec.platform_keys()
    labels = cast(list[str], await redis.zrevrange(pk.rollup_index(queue), 0, limit - 1))
    out: dict[str, dict[str, float]] = {}
    for label in labels:
        data = cast(dict[str, str], await redis.hgetall(pk.rollup(queue, label)))
        if data:
            out[label] = {k: float(v) for k, v in data.items()}
    return out


async def latest_rollups(redis: aioredis.Redis, spec: PlatformSpec) -> dict[str, dict[str, float]]:
    """Per queue, the rollup of the last full hour (what /metrics exports)."""
    now_ms = int(time.time() * 1000)
    last_full = hour_label(now_ms - now_ms % HOUR_MS - HOUR_MS)
    out: dict[str, dict[str, float]] = {}
    for queue in spec.queues:
        data = cast(
            dict[str, str],
            await redis.hgetall(spec.platform_keys().rollup(queue.name, last_full)),
        )
        if data:
            out[queue.name] = {k: float(v) for k, v in data.items()}
    return out
