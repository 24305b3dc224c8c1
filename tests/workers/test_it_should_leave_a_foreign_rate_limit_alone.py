"""A rate limit set from Node or a dashboard survives worker starts (issue 25, item 7).

Only the spec's `rateLimit` is the platform's to manage: a worker start applies
it, and removes it once the spec drops it, but never touches a limit somebody
else set (before, every start of a worker whose spec had no limit erased it).
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import make_spec, producer, running_worker, wait_for

from local_stack.redis_server import RedisServer
from workers.runtime import WorkerRuntime

pytestmark = pytest.mark.redis


def test_it_should_keep_an_operator_limit_and_manage_only_the_specs(
    redis_server: RedisServer, queue_name: str
) -> None:
    bare = make_spec(queue_name)
    limited = make_spec(queue_name, rateLimit={"max": 7, "durationMs": 1000})

    async def scenario() -> None:
        async with producer(redis_server, queue_name) as q:
            meta = f"bull:{queue_name}:meta"
            await q.setGlobalRateLimit(50, 2000)  # as Node's setGlobalRateLimit does
            async with running_worker(redis_server, bare) as rt:
                await _fetched(rt)
            kept = await q.client.hmget(meta, "max", "duration")
            async with running_worker(redis_server, limited) as rt:
                await _fetched(rt)
            applied = await q.client.hmget(meta, "max", "duration")
            async with running_worker(redis_server, bare) as rt:
                await _fetched(rt)
            dropped = await q.client.hmget(meta, "max", "duration")
        print(f"operator limit after a start: {kept}; spec's: {applied}; spec's dropped: {dropped}")
        assert kept == ["50", "2000"], "a worker start erased an operator's rate limit"
        assert applied == ["7", "1000"]
        assert dropped == [None, None], "the platform's own limit stays after the spec drops it"

    asyncio.run(scenario())


async def _fetched(runtime: WorkerRuntime) -> None:
    """Wait for the engine's first fetch, so stopping does not race its start-up."""
    engine = runtime.engine
    assert engine is not None
    started = engine.last_progress

    async def moved() -> bool:
        return engine.last_progress > started

    assert await wait_for(moved, attempts=200, pause=0.02)
