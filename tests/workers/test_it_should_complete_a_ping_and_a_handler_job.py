"""The basic path: a job is validated, handled, completed with its return value, on
either event loop a worker can run on (workers/event_loop.py)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from conftest import get_job, make_spec, producer, running_worker, wait_finished

from local_stack.redis_server import RedisServer
from platform_spec.sections.common import EventLoop
from workers.event_loop import LOOP_FACTORIES, run

pytestmark = pytest.mark.redis


@pytest.mark.parametrize("loop", list(LOOP_FACTORIES))
def test_it_should_complete_ping_and_echo(
    redis_server: RedisServer, queue_name: str, loop: EventLoop
) -> None:
    async def scenario() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop) is (loop == "uvloop")
        spec = make_spec(queue_name)
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            ping = await q.add("ping", {"hello": "world"})
            echo = await q.add("echo", {"text": "hi", "count": 2, "tenantId": "acme"})
            assert await wait_finished(q, ping.id) == "completed"
            assert await wait_finished(q, echo.id) == "completed"
            assert (await get_job(q, ping.id)).returnvalue == {"hello": "world"}
            assert (await get_job(q, echo.id)).returnvalue == {
                "text": "hi",
                "count": 2,
                "tenant": "acme",
            }

    run(scenario(), loop)
