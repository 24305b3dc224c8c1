"""Handlers for the worker tests (imported by in-process and subprocess workers)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import Field

from workers.registry import JobContext, Payload, Registry

registry = Registry()


class Echo(Payload):
    text: str
    count: int = 0


class Sleep(Payload):
    seconds: float = Field(ge=0, le=60)


class Flaky(Payload):
    succeed_on: int = Field(ge=1)


async def _record(ctx: JobContext) -> int:
    """Count runs of this job in Redis (the subprocess tests read it back)."""
    key = f"{ctx.spec.key_prefix}:{ctx.queue.name}:test-runs"
    return int(await ctx.redis.hincrby(key, ctx.job_id, 1))


@registry.job("echo", Echo)
async def echo(payload: Echo, ctx: JobContext) -> dict[str, Any]:
    return {"text": payload.text, "count": payload.count, "tenant": ctx.tenant_id}


@registry.job("sleep", Sleep)
async def sleep(payload: Sleep, ctx: JobContext) -> dict[str, Any]:
    await asyncio.sleep(payload.seconds)
    runs = await _record(ctx)
    return {"slept": payload.seconds, "runs": runs}


@registry.job("block", Sleep, blocking=True)
def block(payload: Sleep, ctx: JobContext) -> dict[str, Any]:
    time.sleep(payload.seconds)  # holds no event loop: runs in a thread
    return {"blocked": payload.seconds}


@registry.job("flaky", Flaky)
async def flaky(payload: Flaky, ctx: JobContext) -> dict[str, Any]:
    if ctx.attempt < payload.succeed_on:
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@registry.job("fail", Echo)
async def fail(payload: Echo, ctx: JobContext) -> None:
    raise ValueError(f"always fails: {payload.text}")


# The contexts `keep-context` saw (in-process workers only): the secrets test walks them.
seen_contexts: list[JobContext] = []


@registry.job("keep-context", Echo)
async def keep_context(payload: Echo, ctx: JobContext) -> str:
    seen_contexts.append(ctx)
    return payload.text


# (key, sequence number) in the order `ordered` jobs ran (in-process workers only): the
# partitioned-queue test checks each key's jobs ran in the order they were enqueued.
ran_in_order: list[tuple[str, int]] = []


@registry.job("ordered", Echo)
async def ordered(payload: Echo, ctx: JobContext) -> int:
    await asyncio.sleep(0)  # let the other partitions' jobs interleave
    ran_in_order.append((payload.text, payload.count))
    return payload.count
