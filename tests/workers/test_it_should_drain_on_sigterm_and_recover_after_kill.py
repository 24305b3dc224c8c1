"""Fault drills with real `python -m workers` processes (bounded, killed at the end).

SIGTERM during long jobs: the worker stops fetching, finishes what it runs,
exits 0; every job completes exactly once. kill -9 during a job: after the
lock lapses, a second worker takes the job back and completes it; nothing lost.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from conftest import make_spec, producer, start_worker, wait_finished, wait_for

from local_stack.redis_server import RedisServer
from platform_spec.model import PlatformSpec

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]


def _runs(client: redis.Redis, queue: str) -> dict[str, int]:
    return {k: int(v) for k, v in client.hgetall(f"bull:{queue}:test-runs").items()}


def test_it_should_finish_every_active_job_once_on_sigterm(
    redis_server: RedisServer,
    admin_client: redis.Redis,
    queue_name: str,
    worker_env: Callable[[PlatformSpec], dict[str, str]],
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    spec = make_spec(queue_name, concurrency=4)
    proc = start_worker(worker_env(spec), queue_name, tmp_path / "worker.log")
    processes.append(proc)

    async def scenario() -> list[str]:
        async with producer(redis_server, queue_name) as q:
            jobs = [await q.add("sleep", {"seconds": 2}) for _ in range(6)]

            async def four_active() -> bool:
                return int((await q.getJobCounts("active"))["active"]) == 4

            assert await wait_for(four_active, attempts=300), "worker never got busy"
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 30) == 0
            states = [await q.getJobState(j.id) for j in jobs]
            assert states.count("completed") == 4, states
            assert states.count("waiting") == 2, "jobs not started must stay queued"
            return [j.id for j in jobs if await q.getJobState(j.id) == "completed"]

    done = asyncio.run(scenario())
    runs = _runs(admin_client, queue_name)
    assert {i: runs.get(i) for i in done} == {i: 1 for i in done}
    log = (tmp_path / "worker.log").read_text()
    assert '"msg": "drained"' in log and '"handedBack": 0' in log


def test_it_should_recover_a_job_after_kill_9(
    redis_server: RedisServer,
    admin_client: redis.Redis,
    queue_name: str,
    worker_env: Callable[[PlatformSpec], dict[str, str]],
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    spec = make_spec(queue_name, concurrency=2, attempts=1)
    env = worker_env(spec)
    first = start_worker(env, queue_name, tmp_path / "first.log")
    processes.append(first)

    async def scenario() -> None:
        async with producer(redis_server, queue_name) as q:
            job = await q.add("sleep", {"seconds": 1.5})

            async def active() -> bool:
                return str(await q.getJobState(job.id)) == "active"

            assert await wait_for(active, attempts=300)
            first.kill()
            first.wait(10)
            assert await q.getJobState(job.id) == "active", "a dead worker's job stays active"
            second = start_worker(env, queue_name, tmp_path / "second.log")
            processes.append(second)
            assert await wait_finished(q, job.id, attempts=400) == "completed"
            done = await q.getJob(job.id)
            assert done is not None and done.returnvalue["runs"] == 1
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0
            counts = await q.getJobCounts("active", "wait", "delayed", "failed")
            assert counts == {"active": 0, "wait": 0, "delayed": 0, "failed": 0}

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 120  # bounded drill, not a timing assertion on work
