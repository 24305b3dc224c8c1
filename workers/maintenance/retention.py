"""retention-enforce: trim events streams, delete old DLQ entries and old rollups.

- each queue's (and its DLQ's) `events` stream: XTRIM MAXLEN ~ scheduler.eventsMaxLength;
- DLQ entries (jobs of `<queue>-dlq`, in any state) older than the queue's
  deadLetter.retentionSeconds, by BullMQ's `clean` script (job hash and entry);
- rollups older than scheduler.rollupRetentionSeconds (their TTL is the same,
  this also clears the index).
"""

from __future__ import annotations

import time
from typing import Any, cast

import redis.asyncio as aioredis

from platform_spec.model import PlatformSpec
from workers.dlq import DLQ_STATES
from workers.maintenance.cleanup import bull_queue, clean_in_batches


async def enforce_retention(
    redis: aioredis.Redis, spec: PlatformSpec, payload: dict[str, Any]
) -> dict[str, Any]:
    maxlen = spec.scheduler.events_max_length
    trimmed: dict[str, int] = {}
    dlq_removed: dict[str, int] = {}
    for q in spec.queues:
        names = q.partition_names + ([q.dlq_name] if q.dead_letter.enabled else [])
        for name in names:
            events = spec.queue_keys(name).events
            trimmed[name] = int(await redis.xtrim(events, maxlen=maxlen, approximate=True))
        if q.dead_letter.enabled:
            dlq = bull_queue(redis, spec, q.dlq_name)
            grace = q.dead_letter.retention_seconds * 1000
            dlq_removed[q.dlq_name] = sum(
                [await clean_in_batches(dlq, state, grace) for state in DLQ_STATES]
            )
    pk = spec.platform_keys()
    cutoff = time.time() - spec.scheduler.rollup_retention_seconds
    rollups_removed: dict[str, int] = {}
    for q in spec.queues:
        # The client decodes replies (decode_responses=True): members are str.
        labels = cast(list[str], await redis.zrangebyscore(pk.rollup_index(q.name), "-inf", cutoff))
        if labels:
            await redis.delete(*[pk.rollup(q.name, label) for label in labels])
            await redis.zrem(pk.rollup_index(q.name), *labels)
        rollups_removed[q.name] = len(labels)
    return {
        "eventsTrimmed": trimmed,
        "dlqRemoved": dlq_removed,
        "rollupsRemoved": rollups_removed,
    }
