"""Handlers of the Redis Cluster tests: `work` records its run in the queue's own slot."""

from __future__ import annotations

from typing import Any

from workers.registry import JobContext, Payload, Registry

registry = Registry()


class Work(Payload):
    n: int = 0


def runs_key(prefix: str, queue: str) -> str:
    """A hash in the queue's slot: job id -> executions (the prefix carries the tag)."""
    return f"{prefix}:{queue}:test-runs"


@registry.job("work", Work)
async def work(payload: Work, ctx: JobContext) -> dict[str, Any]:
    key = runs_key(ctx.spec.queue_prefix(ctx.queue.name), ctx.queue.name)
    return {"runs": int(await ctx.redis.hincrby(key, ctx.job_id, 1)), "n": payload.n}


@registry.job("boom", Work)
async def boom(payload: Work, ctx: JobContext) -> dict[str, Any]:
    raise RuntimeError(f"boom {payload.n}")
