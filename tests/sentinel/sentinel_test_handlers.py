"""Handlers of the Sentinel tests: a parent that enqueues one child by a stable id."""

from __future__ import annotations

from workers.registry import JobContext, Payload, Registry

registry = Registry()


class Empty(Payload):
    pass


@registry.job("spawn", Empty)
async def spawn(payload: Empty, ctx: JobContext) -> str:
    """Enqueue the child under an id derived from the parent's (a retry re-adds it)."""
    assert ctx.enqueue is not None
    return await ctx.enqueue(ctx.queue.name, "child", {}, f"{ctx.job_id}-child")


@registry.job("child", Empty)
async def child(payload: Empty, ctx: JobContext) -> str:
    return "done"
