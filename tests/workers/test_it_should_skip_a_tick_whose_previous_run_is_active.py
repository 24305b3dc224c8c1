"""overlap: skip -- the worker-side check skips a tick while an earlier tick of it is active."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from scheduler_harness import make_spec, schedule

from local_stack.redis_server import RedisServer
from workers.runs import run_records, should_skip_overlap

pytestmark = [pytest.mark.redis]


def test_it_should_skip_a_tick_whose_previous_run_is_active(
    redis_server: RedisServer, queue_name: str
) -> None:
    spec = make_spec(
        queue_name,
        [schedule(queue_name, "slow"), schedule(queue_name, "free", overlap="allow")],
    )

    async def scenario() -> None:
        client = aioredis.Redis(**redis_server.connection_kwargs("worker"), decode_responses=True)
        active = f"bull:{queue_name}:active"
        try:
            # The run records live in one platform hash keyed by schedule id, and other
            # tests name a schedule `slow` too: count what this test adds.
            before = (await run_records(client, spec)).get("slow", {}).get("skipped", 0)
            await client.lpush(
                active,
                "repeat:slow:1000",
                "repeat:slow:2000",
                "repeat:free:1000",
                "repeat:free:2000",
                "plain-job",
            )
            assert await should_skip_overlap(client, spec, queue_name, "repeat:slow:2000")
            assert not await should_skip_overlap(client, spec, queue_name, "repeat:slow:1000")
            assert not await should_skip_overlap(client, spec, queue_name, "repeat:free:2000")
            assert not await should_skip_overlap(client, spec, queue_name, "plain-job")
            await client.lrem(active, 1, "repeat:slow:1000")
            assert not await should_skip_overlap(client, spec, queue_name, "repeat:slow:2000")
            records = await run_records(client, spec)
            assert records["slow"]["skipped"] == before + 1
            assert "free" not in records or "skipped" not in records["free"]
        finally:
            await client.aclose()

    asyncio.run(scenario())
