"""Handlers of the fault drills: every execution is recorded in Redis, idempotently.

`work` and `tick` record, in one MULTI: SADD of the job id into `drill-done`
(the idempotent effect: a second run changes nothing) and HINCRBY of
`drill-runs[job id]` (every execution counted, so duplicates show), under the queue's own
prefix (hash-tagged in Redis Cluster mode, so the MULTI stays in the queue's slot). `work`
first notes which process runs the job (`drill-owner`), so a drill can count
the jobs in flight in a process it is about to kill.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from pydantic import Field

from workers.registry import JobContext, Payload, Registry

registry = Registry()


class Work(Payload):
    seconds: float = Field(0.0, ge=0, le=30)
    # Ballast that makes a job cost memory (the full-Redis drills); the handler ignores it.
    pad: str = Field("", max_length=64 * 1024)


class Tick(Payload):
    pass


def keys(prefix: str, queue: str) -> dict[str, str]:
    base = f"{prefix}:{queue}"
    return {
        "owner": f"{base}:drill-owner",
        "done": f"{base}:drill-done",
        "runs": f"{base}:drill-runs",
        "ran_at": f"{base}:drill-ran-at",
    }


async def _record(ctx: JobContext) -> int:
    k = keys(ctx.spec.queue_prefix(ctx.queue.name), ctx.queue.name)
    pipe = ctx.redis.pipeline(transaction=True)
    pipe.sadd(k["done"], ctx.job_id)
    pipe.hincrby(k["runs"], ctx.job_id, 1)
    pipe.hsetnx(k["ran_at"], ctx.job_id, f"{time.time():.3f}")
    _, runs, _ = await pipe.execute()
    return int(runs)


@registry.job("work", Work)
async def work(payload: Work, ctx: JobContext) -> dict[str, Any]:
    k = keys(ctx.spec.queue_prefix(ctx.queue.name), ctx.queue.name)
    await ctx.redis.hset(k["owner"], ctx.job_id, str(os.getpid()))
    if payload.seconds:
        await asyncio.sleep(payload.seconds)
    return {"runs": await _record(ctx), "pid": os.getpid()}


@registry.job("tick", Tick)
async def tick(payload: Tick, ctx: JobContext) -> dict[str, Any]:
    return {"runs": await _record(ctx)}


@registry.job("block", Work)
async def block(payload: Work, ctx: JobContext) -> dict[str, Any]:
    """A badly written async handler: it blocks the whole event loop (issue 25, item 5)."""
    k = keys(ctx.spec.queue_prefix(ctx.queue.name), ctx.queue.name)
    await ctx.redis.hset(k["owner"], ctx.job_id, str(os.getpid()))
    time.sleep(payload.seconds)  # blocking the loop is the point of this handler
    return {"runs": await _record(ctx), "pid": os.getpid()}


@registry.job("boom", Work)
async def boom(payload: Work, ctx: JobContext) -> dict[str, Any]:
    """Always fails (the failure-storm drill): the job goes to failed and to the DLQ."""
    raise ValueError("boom: this job always fails")
