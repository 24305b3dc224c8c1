"""Per-schedule run records: overlap skips (worker side) and last successful runs.

The worker of a schedule's queue calls `should_skip_overlap` before running a
tick. With `overlap: skip`, a tick whose previous tick of the same schedule is
still active is not run: the worker completes it with the result
`{"skipped": true, "reason": "overlap"}` and this module counts the skip.

The scheduler service derives each schedule's last successful run from the
queue's BullMQ events stream (a `completed` event of a `repeat:<id>:<ms>` job
whose result is not a skip) and keeps the newest one in Redis, so the
"seconds since last successful run" metric survives restarts and needs no
cooperation from the workers.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

import redis.asyncio as aioredis

from platform_spec.model import PlatformSpec

SKIPPED_RESULT: dict[str, Any] = {"skipped": True, "reason": "overlap"}
# Events read per queue per refresh (BullMQ trims streams to about 10 000).
EVENTS_SCAN = 2000


def parse_tick_id(job_id: str) -> tuple[str, int] | None:
    """`repeat:<schedule id>:<millis>` -> (schedule id, millis); None for other jobs."""
    if not job_id.startswith("repeat:"):
        return None
    schedule_id, _, millis = job_id[len("repeat:") :].rpartition(":")
    if not schedule_id or not millis.isdigit():
        return None
    return schedule_id, int(millis)


async def should_skip_overlap(
    redis: aioredis.Redis, spec: PlatformSpec, queue: str, job_id: str
) -> bool:
    """True when this tick must be skipped: `overlap: skip` and an earlier tick is active.

    Call it in the worker after fetching a job and before running its handler
    (the job itself is already in `active`). Only an *earlier* tick blocks a
    later one, so two ticks never skip each other. A skip is recorded
    (`<id>:skipped` count, `<id>:last-skipped` time) for the metrics.
    """
    tick = parse_tick_id(job_id)
    if tick is None:
        return False
    schedule_id, millis = tick
    schedule = next((s for s in spec.schedules if s.name == schedule_id), None)
    if schedule is None or schedule.overlap != "skip":
        return False
    if spec.schedule_queue(schedule.queue) != queue:
        return False
    # Clients here decode replies (decode_responses=True): every reply is a str.
    active = cast(list[str], await redis.lrange(spec.queue_keys(queue).active, 0, -1))
    for other in active:
        other_tick = parse_tick_id(other)
        if other_tick and other_tick[0] == schedule_id and other_tick[1] < millis:
            runs = spec.platform_keys().schedule_runs
            async with redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(runs, f"{schedule_id}:skipped", 1)
                pipe.hset(runs, f"{schedule_id}:last-skipped", str(time.time()))
                await pipe.execute()
            return True
    return False


def _is_skip(returnvalue: str | None) -> bool:
    if not returnvalue:
        return False
    try:
        value = json.loads(returnvalue)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("skipped") is True


async def refresh_last_success(redis: aioredis.Redis, spec: PlatformSpec) -> dict[str, float]:
    """Newest successful run (epoch seconds) per schedule id, updated from the events streams."""
    runs = spec.platform_keys().schedule_runs
    by_queue: dict[str, set[str]] = {}
    for schedule in spec.schedules:
        by_queue.setdefault(spec.schedule_queue(schedule.queue), set()).add(schedule.name)
    newest: dict[str, float] = {}
    for queue, ids in by_queue.items():
        events = cast(
            list[tuple[str, dict[str, str]]],
            await redis.xrevrange(spec.queue_keys(queue).events, count=EVENTS_SCAN),
        )
        for entry_id, fields in events:
            if fields.get("event") != "completed":
                continue
            tick = parse_tick_id(fields.get("jobId", ""))
            if tick is None or tick[0] not in ids or tick[0] in newest:
                continue
            if _is_skip(fields.get("returnvalue")):
                continue
            newest[tick[0]] = int(entry_id.split("-")[0]) / 1000
    stored = await redis.hgetall(runs)
    result: dict[str, float] = {}
    for schedule in spec.schedules:
        field = f"{schedule.name}:last-success"
        best = max(newest.get(schedule.name, 0.0), float(stored.get(field, 0) or 0))
        if best and best > float(stored.get(field, 0) or 0):
            await redis.hset(runs, field, str(best))
        if best:
            result[schedule.name] = best
    return result


async def run_records(redis: aioredis.Redis, spec: PlatformSpec) -> dict[str, dict[str, float]]:
    """Per schedule: registered, last-success, skipped, last-skipped (whatever is recorded)."""
    stored = cast(dict[str, str], await redis.hgetall(spec.platform_keys().schedule_runs))
    out: dict[str, dict[str, float]] = {}
    for key, value in stored.items():
        schedule_id, _, what = key.rpartition(":")
        out.setdefault(schedule_id, {})[what] = float(value)
    return out
