"""daily-cleanup: remove finished jobs older than each queue's retention.

Completed jobs older than `removeOnComplete.ageSeconds` and failed jobs older
than `removeOnFail.ageSeconds` are removed with BullMQ's own `clean` script
(job hash, logs and set entry together), in bounded batches. A queue with no
age set keeps its jobs (its count limit is applied by BullMQ at finish time).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from bullmq import Queue as BullQueue

from platform_spec.model import PlatformSpec
from workers.maintenance.flags import flag

BATCH = 1000
MAX_BATCHES = 100  # at most 100k jobs per queue and state per run; the next run continues


def bull_queue(redis: aioredis.Redis, spec: PlatformSpec, name: str) -> BullQueue:
    """A bullmq Queue on the caller's client (never closed here: the caller owns it)."""
    return BullQueue(name, {"connection": redis, "prefix": spec.queue_prefix(name)})


async def clean_older_than(queue: BullQueue, state: str, age_seconds: int, *, dry_run: bool) -> int:
    """Remove jobs of `state` older than `age_seconds`; the number removed (or that would be)."""
    if dry_run:
        # The finished sets are scored by finishedOn; the count is exact for them.
        cutoff = await queue.client.time()
        now_ms = int(cutoff[0]) * 1000 + int(cutoff[1]) // 1000
        key = queue.toKey(state)
        return int(await queue.client.zcount(key, "-inf", now_ms - age_seconds * 1000))
    return await clean_in_batches(queue, state, age_seconds * 1000)


async def clean_in_batches(queue: BullQueue, state: str, grace_ms: int) -> int:
    """BullMQ's `clean` of jobs of `state` older than `grace_ms`, BATCH at a time, bounded."""
    removed = 0
    for _ in range(MAX_BATCHES):
        ids = await queue.clean(grace_ms, BATCH, state)
        removed += len(ids)
        if len(ids) < BATCH:
            break
    return removed


async def cleanup(
    redis: aioredis.Redis, spec: PlatformSpec, payload: dict[str, Any]
) -> dict[str, Any]:
    dry_run = bool(flag(payload, "dryRun", "dry_run", False))
    per_queue: dict[str, dict[str, int]] = {}
    for q in spec.queues:
        counts = {"completed": 0, "failed": 0}
        for name in q.partition_names:  # a partitioned queue's partitions, added up
            queue = bull_queue(redis, spec, name)
            for state, retention in (
                ("completed", q.remove_on_complete),
                ("failed", q.remove_on_fail),
            ):
                if retention.age_seconds is not None:
                    counts[state] += await clean_older_than(
                        queue, state, retention.age_seconds, dry_run=dry_run
                    )
        per_queue[q.name] = counts
    total = sum(c["completed"] + c["failed"] for c in per_queue.values())
    return {"dryRun": dry_run, "removed": per_queue, "total": total}
