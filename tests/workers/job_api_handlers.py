"""Handlers that use the handler job API (workers/job.py): the examples of
docs/workers.md ("The job in a handler's hands"), quoted there verbatim
(tests/unit/test_docs_examples.py checks it) and run on both engines by
tests/workers/test_it_should_give_handlers_the_job.py.

Each one exercises one feature and returns what it saw, so the tests (and Node,
reading the job) can check it. `ABORTS` collects the ids of blocking jobs that saw
their abort signal (in-process workers only).
"""

from __future__ import annotations

import time
from typing import Any

from workers.registry import JobContext, Payload, Registry

registry = Registry()
ABORTS: list[str] = []


class Step(Payload):
    step: int = 0
    n: int = 0


@registry.job("report", Step)
async def report(payload: Step, ctx: JobContext) -> dict[str, Any]:
    job = ctx.job
    await job.update_progress(50)
    await job.log("halfway")
    await job.update_progress({"done": payload.n})
    lines = await job.log("done")
    return {
        "raw": job.data,
        "payloadN": job.payload.n,
        "attempts": job.opts.get("attempts"),
        "priority": job.priority,
        "attemptsMade": job.attempts_made,
        "timestamp": job.timestamp,
        "processedOn": job.processed_on,
        "parent": job.parent,
        "lines": lines,
    }


@registry.job("rewrite", Step)
async def rewrite(payload: Step, ctx: JobContext) -> dict[str, Any]:
    job = ctx.job
    if payload.step == 0:
        await job.update_data({**job.data, "step": 1})
        raise RuntimeError("first attempt fails after update_data")
    return {"data": job.data, "attemptsMade": job.attempts_made}


@registry.job("discard", Step)
async def discard(payload: Step, ctx: JobContext) -> None:
    ctx.job.discard()
    raise RuntimeError("discarded: no retries")


@registry.job("later", Step)
async def later(payload: Step, ctx: JobContext) -> dict[str, Any]:
    job = ctx.job
    if payload.step == 0:
        await job.update_data({**job.data, "step": 1})
        job.move_to_delayed(int(time.time() * 1000) + 300)
    return {"attemptsMade": job.attempts_made}


@registry.job("limited", Step)
async def limited(payload: Step, ctx: JobContext) -> dict[str, Any]:
    job = ctx.job
    if payload.step == 0:
        await job.update_data({**job.data, "step": 1})
        await job.rate_limit(300)
    return {"attemptsMade": job.attempts_made}


@registry.job("hang", Step, blocking=True)
def hang(payload: Step, ctx: JobContext) -> None:
    job = ctx.job
    if job.signal.wait(30):  # the job timeout sets it
        ABORTS.append(job.id)


@registry.job("child", Step)
async def child(payload: Step, ctx: JobContext) -> dict[str, int]:
    if payload.n < 0:
        raise RuntimeError(f"child refuses {payload.n}")
    return {"double": payload.n * 2}


@registry.job("gather", Step)
async def gather(payload: Step, ctx: JobContext) -> dict[str, Any]:
    """A flow's parent: reads what its children returned."""
    job = ctx.job
    return {"values": await job.children_values(), "deps": await job.dependencies()}


@registry.job("spawn", Step)
async def spawn(payload: Step, ctx: JobContext) -> dict[str, Any]:
    """The dynamic-children pattern: add children, wait for them, then gather."""
    job = ctx.job
    if payload.step == 0:
        for n in range(1, payload.n + 1):
            await job.add_child(job.queue_name, "child", {"n": n}, job_id=f"{job.id}-c{n}")
        await job.update_data({**job.data, "step": 1})
        await job.move_to_waiting_children()
    values = await job.children_values()
    return {"total": sum(v["double"] for v in values.values()), "attemptsMade": job.attempts_made}
