"""A finish answered NOSCRIPT (Redis lost its scripts: a restart without persistence of
the script cache, SCRIPT FLUSH) reloads moveToFinished and is sent again: the job
completes once, nothing is left in `active`, and the engine goes on.

The fast engine packs each finish once (workers/engine_fast.py `_finish_again`), so
this path is its own, not the generic evalsha's reload."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from bullmq import Queue

from local_stack.redis_server import RedisServer
from workers.bullmq_wire import FastJob
from workers.engine_fast import EngineOptions, FastEngine

pytestmark = pytest.mark.redis


def test_it_should_reload_the_finish_script_and_complete_the_job(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    n = 20
    flushed: list[str] = []

    async def processor(job: FastJob) -> str:
        if job.data["i"] in (0, 7):  # twice: once per reload, both on the wire after it
            admin_client.script_flush()
            flushed.append(job.id)
        return f"done {job.data['i']}"

    async def main() -> FastEngine:
        queue = Queue(queue_name, {"connection": redis_server.connection_kwargs("worker")})
        try:
            await queue.addBulk([{"name": "s", "data": {"i": i}} for i in range(n)])
        finally:
            await queue.close()
        engine = FastEngine(
            queue_name, redis_server.connection_kwargs("worker"), EngineOptions(concurrency=1)
        )
        task = asyncio.create_task(engine.run(processor))
        deadline = time.monotonic() + 30
        while engine.processed < n and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.02)
        await engine.close(drain=True)
        await task
        return engine

    engine = asyncio.run(main())
    base = f"bull:{queue_name}:"
    assert len(flushed) == 2
    assert engine.processed == n
    assert admin_client.zcard(base + "completed") == n
    assert admin_client.zcard(base + "failed") == 0
    assert admin_client.llen(base + "active") == 0
    for job_id in flushed:
        assert admin_client.hget(base + job_id, "returnvalue") is not None
        assert admin_client.hget(base + job_id, "atm") == "1"
