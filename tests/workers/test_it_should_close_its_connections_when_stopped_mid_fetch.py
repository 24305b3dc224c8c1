"""Stopping an engine while its fetch is in flight: the job that fetch brings is
finished, and every Redis connection the engine opened is closed when stop()
returns (none is reopened after and left to the garbage collector, where it
surfaced as a ResourceWarning under `filterwarnings = error`).

The fetch is held in flight for real: `CLIENT PAUSE WRITE` makes Redis postpone
the engine's fetch script (a write) until the test unpauses it, after stop() began.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
import redis
from conftest import producer, redis_settings

from local_stack.redis_server import RedisServer
from platform_spec.keys import QueueKeys
from workers.connection import bullmq_connection
from workers.engine import EngineConfig, JobView
from workers.engine_factory import ENGINES, create_engine

POLL_SECONDS = 0.05
# How long the handler waits, while stop() runs, for the engine to drop its connections
# (what the unfixed stock engine did under a running job) before it finishes the job.
CLOSE_WINDOW_POLLS = 40


class _Hooks:
    def __init__(self) -> None:
        self.completed: list[str] = []
        self.failed: list[str] = []

    def retry_delay_ms(self, job: JobView, opts_backoff: Any, attempts_made: int) -> int:
        return 0

    def on_completed(self, job: JobView, result: Any) -> None:
        self.completed.append(job.id)

    async def on_failed(self, job: JobView, error: BaseException, final: bool) -> None:
        self.failed.append(job.id)


def _worker_clients(admin: redis.Redis) -> dict[str, str]:
    """CLIENT LIST lines of the `worker` ACL user, by client id."""
    lines = str(admin.execute_command("CLIENT", "LIST")).splitlines()
    return {line.split()[0]: line for line in lines if " user=worker " in line}


def _fetch_postponed(admin: redis.Redis) -> bool:
    """A worker's script call is held by CLIENT PAUSE (flag `b`: blocked)."""
    return any(
        " flags=b " in line and " cmd=evalsha " in line for line in _worker_clients(admin).values()
    )


def _config(server: RedisServer, queue: str) -> EngineConfig:
    return EngineConfig(
        queue=queue,
        prefix="bull",
        connection=bullmq_connection(redis_settings(server)),
        concurrency=1,
        default_attempts=1,
        lock_duration_ms=5000,
        stalled_interval_ms=5000,
        max_stalled_count=1,
        drain_delay_seconds=0.5,
        remove_on_complete=True,
        remove_on_fail=True,
    )


@pytest.mark.parametrize("engine_kind", ENGINES)
def test_it_should_finish_the_fetched_job_and_close_every_connection(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str, engine_kind: str
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def process(job: JobView) -> Any:
        started.set()
        await release.wait()
        return "done"

    async def scenario() -> tuple[_Hooks, str, dict[str, str], int]:
        async with producer(redis_server, queue_name) as queue:
            job = await queue.add("ping", {})
        before = set(_worker_clients(admin_client))
        hooks = _Hooks()
        engine = create_engine(engine_kind, _config(redis_server, queue_name), process, hooks)
        admin_client.execute_command("CLIENT", "PAUSE", "30000", "WRITE")
        try:
            await engine.start()
            for _ in range(400):
                if _fetch_postponed(admin_client):
                    break
                await asyncio.sleep(POLL_SECONDS)
            assert _fetch_postponed(admin_client), "the engine's fetch never reached Redis"
            stopping = asyncio.ensure_future(engine.stop(30))
            await asyncio.sleep(0)  # stop() begins while the fetch is held
        finally:
            admin_client.execute_command("CLIENT", "UNPAUSE")
        await asyncio.wait_for(started.wait(), 30)
        for _ in range(CLOSE_WINDOW_POLLS):
            if not set(_worker_clients(admin_client)) - before:
                break  # the engine dropped every connection under a running job
            await asyncio.sleep(POLL_SECONDS)
        release.set()
        handed_back = await asyncio.wait_for(stopping, 60)
        left: dict[str, str] = {}
        for _ in range(200):  # Redis notices a closed connection soon, not at once
            left = {k: v for k, v in _worker_clients(admin_client).items() if k not in before}
            if not left:
                break
            await asyncio.sleep(POLL_SECONDS)
        active = int(admin_client.llen(QueueKeys("bull", queue_name).active))
        return hooks, str(job.id), left, active + handed_back

    hooks, job_id, left, unfinished = asyncio.run(scenario())
    gc.collect()  # a connection left open would warn here (ResourceWarning -> error)
    print(
        f"{engine_kind}: sent 1, completed {len(hooks.completed)}, failed {len(hooks.failed)}, "
        f"unfinished {unfinished}, connections left open {len(left)}"
    )
    assert hooks.completed == [job_id] and not hooks.failed
    assert unfinished == 0
    assert not left, f"connections still open after stop(): {list(left.values())}"
