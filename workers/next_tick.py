"""Add a job scheduler's next iteration exactly once, through a failover.

Why: a tick ran twice across a Sentinel failover (tests/drills/
test_it_should_fail_over_to_a_replica_without_losing_jobs.py). The scheduler's
repair ("next job missing") re-registered the schedule with bullmq's
`addJobScheduler`, whose next fire was computed in Python a second or two before
the script ran (a slow pass while clients reconnect). Meanwhile a worker had run
that tick and added the one after it; the script removed that newer tick as "the
previous job", found the old tick's job id taken, and rewrote the finished job's
hash and queued it again: bullmq started it a second time (`ats` 2).

The safe way to add a next iteration is bullmq's own `updateJobScheduler`
script (`upsertJobScheduler(override=False)`, what a worker calls when it
fetches a tick): it acts only while the scheduler still points at the tick the
caller saw (`producer_id` = that tick's job id) and only when the next tick's job
does not exist yet. A second call, a retried call, or a call that lost the race
to a worker or another scheduler changes nothing. So it may be retried freely,
and it is, through the refusals of a failover: `NOREPLICAS` while the new
primary has no replica (min-replicas-to-write), `READONLY` from a demoted
primary, connection errors.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bullmq import Queue, Worker
from bullmq.job_scheduler import JobScheduler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

RETRY_DELAY_SECONDS = 0.1
# Replies a failover produces for a while; anything else is a real error.
_TRANSIENT_REPLIES = ("NOREPLICAS", "READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN")


def tick_job_id(schedule_id: str, millis: int) -> str:
    """BullMQ's job id of one tick of a job scheduler."""
    return f"repeat:{schedule_id}:{millis}"


def transient(err: BaseException) -> bool:
    """Whether `err` is what a failover answers for a moment (worth sending again)."""
    if isinstance(err, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError):
        return True
    return isinstance(err, ResponseError) and str(err).startswith(_TRANSIENT_REPLIES)


async def add_next_tick(
    queue: Queue | Worker,
    schedule_id: str,
    repeat: dict[str, Any] | None,
    name: str,
    data: Any,
    opts: dict[str, Any],
    producer_id: str,
    *,
    retry_seconds: float = 0.0,
) -> str | None:
    """Add the tick after `producer_id`'s; the new job id, or None when nothing was added
    (the scheduler moved on or is gone, or that tick's job exists already).

    `queue` is the bullmq Queue or Worker of the schedule's queue (its connection and
    prefix). Transient refusals are sent again for up to `retry_seconds` (idempotent,
    see above).
    """
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            job = await JobScheduler(queue).upsertJobScheduler(
                schedule_id, repeat, name, data, opts, override=False, producer_id=producer_id
            )
            return str(job.id) if job is not None else None
        except Exception as err:
            if not transient(err) or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(RETRY_DELAY_SECONDS)
