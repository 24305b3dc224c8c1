"""The fast engine against the real TLS + ACL Redis: every guarantee of the stock Worker.

Jobs are added with Python bullmq's Queue (the same Lua scripts Node uses);
the engine runs in-process, or in a child process where a test kills it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from bullmq import Queue, UnrecoverableError

from local_stack.lifetime import die_with_parent
from local_stack.redis_server import RedisServer
from workers.bullmq_wire import FastJob
from workers.engine_fast import EngineOptions, FastEngine

pytestmark = pytest.mark.redis
REPO = Path(__file__).resolve().parents[2]


async def add_jobs(server: RedisServer, queue: str, jobs: list[dict[str, Any]]) -> None:
    q = Queue(queue, {"connection": server.connection_kwargs("worker")})
    try:
        await q.addBulk(jobs)
    finally:
        await q.close()


async def run_until(
    engine: FastEngine,
    processor: Callable[[FastJob], Awaitable[Any]],
    done: Callable[[], bool],
    timeout: float = 30,
) -> None:
    task = asyncio.create_task(engine.run(processor))
    try:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.02)
    finally:
        await engine.close(drain=True)
        await task


def events(client: redis.Redis, queue: str) -> list[dict[str, str]]:
    return [fields for _, fields in client.xrange(f"bull:{queue}:events")]


# flush_chunk 3: writes leave every 3 buffered commands too (the lever stays switchable).
@pytest.mark.parametrize("flush_chunk", [0, 3], ids=["tick", "chunk3"])
def test_it_should_process_every_job_exactly_once(
    redis_server: RedisServer,
    admin_client: redis.Redis,
    queue_name: str,
    flush_chunk: int,
) -> None:
    n = 300
    seen: list[str] = []

    async def processor(job: FastJob) -> int:
        seen.append(job.id)
        await asyncio.sleep(0)
        return int(job.data["i"]) * 2

    async def main() -> None:
        await add_jobs(
            redis_server,
            queue_name,
            [
                {"name": "n", "data": {"i": i}, "opts": {"removeOnComplete": i % 2 == 0}}
                for i in range(n)
            ],
        )
        engine = FastEngine(
            queue_name,
            redis_server.connection_kwargs("worker"),
            EngineOptions(concurrency=10, flush_chunk=flush_chunk),
        )
        await run_until(engine, processor, lambda: engine.processed >= n)

    asyncio.run(main())
    assert len(seen) == n and len(set(seen)) == n
    base = f"bull:{queue_name}:"
    assert admin_client.llen(base + "wait") == 0
    assert admin_client.llen(base + "active") == 0
    kept = admin_client.zrange(base + "completed", 0, -1)
    assert len(kept) == n // 2  # removeOnComplete honoured for even i
    for job_id in kept:
        atm, ats, data, value = admin_client.hmget(
            base + job_id, "atm", "ats", "data", "returnvalue"
        )
        assert (atm, ats) == ("1", "1")
        assert int(value) == 2 * int(data.split(":")[1].rstrip("}"))
    # SCAN as admin: the worker user may not list key names (issue 25).
    assert not list(admin_client.scan_iter(match=base + "*:lock"))
    kinds = [e["event"] for e in events(admin_client, queue_name)]
    assert kinds.count("completed") == n and kinds.count("active") == n


def test_it_should_retry_with_backoff_then_complete(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    calls: list[float] = []

    async def processor(job: FastJob) -> str:
        calls.append(time.monotonic())
        if job.attempts_made < 2:
            raise RuntimeError(f"boom {job.attempts_made}")
        return "ok"

    async def main() -> None:
        opts = {"attempts": 3, "backoff": {"type": "exponential", "delay": 100}}
        await add_jobs(redis_server, queue_name, [{"name": "r", "data": {}, "opts": opts}])
        engine = FastEngine(queue_name, redis_server.connection_kwargs("worker"))
        await run_until(engine, processor, lambda: engine.processed >= 1)

    asyncio.run(main())
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.09 and calls[2] - calls[1] >= 0.19  # 100 ms, then 200 ms
    base = f"bull:{queue_name}:"
    (job_id,) = admin_client.zrange(base + "completed", 0, -1)
    assert admin_client.hget(base + job_id, "atm") == "3"
    assert "boom 1" in admin_client.hget(base + job_id, "stacktrace")
    kinds = [e["event"] for e in events(admin_client, queue_name)]
    assert kinds.count("delayed") == 2 and kinds[-1] in ("completed", "drained")


def test_it_should_fail_unrecoverable_errors_at_once_with_a_failed_event(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    calls = 0
    failures: list[tuple[str, bool]] = []

    async def processor(job: FastJob) -> None:
        nonlocal calls
        calls += 1
        raise UnrecoverableError("bad payload")

    async def main() -> None:
        await add_jobs(
            redis_server, queue_name, [{"name": "u", "data": {}, "opts": {"attempts": 5}}]
        )
        engine = FastEngine(
            queue_name,
            redis_server.connection_kwargs("worker"),
            on_failed=lambda job, err, final: failures.append((str(err), final)),
        )
        await run_until(engine, processor, lambda: bool(failures))

    asyncio.run(main())
    assert calls == 1 and failures == [("bad payload", True)]
    failed = [e for e in events(admin_client, queue_name) if e["event"] == "failed"]
    assert failed[0]["failedReason"] == "bad payload"


def test_it_should_fail_a_job_that_outlives_its_timeout(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    failures: list[tuple[str, bool]] = []

    async def processor(job: FastJob) -> None:
        await asyncio.sleep(30)

    async def main() -> None:
        await add_jobs(redis_server, queue_name, [{"name": "t", "data": {}}])
        engine = FastEngine(
            queue_name,
            redis_server.connection_kwargs("worker"),
            EngineOptions(job_timeout_seconds=0.2),
            on_failed=lambda job, err, final: failures.append((str(err), final)),
        )
        await run_until(engine, processor, lambda: bool(failures))

    asyncio.run(main())
    assert failures == [("job timed out after 0.2s", True)]
    assert admin_client.zcard(f"bull:{queue_name}:failed") == 1


def test_it_should_renew_locks_of_jobs_that_outlive_them(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    """Lock 600 ms, job 2 s, a second worker checking for stalled jobs every 200 ms."""
    calls = 0

    async def slow(job: FastJob) -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(2)
        return "done"

    async def idle(job: FastJob) -> None:
        raise AssertionError("the job was seen as stalled and run twice")

    async def main() -> None:
        opts = EngineOptions(lock_duration_ms=600, stalled_interval_ms=200)
        await add_jobs(redis_server, queue_name, [{"name": "l", "data": {}}])
        worker = FastEngine(queue_name, redis_server.connection_kwargs("worker"), opts)
        watcher = FastEngine(queue_name, redis_server.connection_kwargs("worker"), opts)
        working = asyncio.create_task(run_until(worker, slow, lambda: worker.processed >= 1))
        while not calls:  # the watcher starts once the job is active (it must not take it)
            await asyncio.sleep(0.01)
        watching = asyncio.create_task(watcher.run(idle))
        await working
        await watcher.close()
        await watching

    asyncio.run(main())
    assert calls == 1
    assert admin_client.zcard(f"bull:{queue_name}:completed") == 1


CHILD = textwrap.dedent(
    """
    import asyncio, signal, sys
    from workers.engine_fast import EngineOptions, FastEngine
    from bench._conn import connection_from_env

    async def main(queue, seconds):
        engine = FastEngine(queue, connection_from_env(),
                            EngineOptions(concurrency=5, lock_duration_ms=1000,
                                         stalled_interval_ms=300))
        async def processor(job):
            print("started", job.id, flush=True)
            await asyncio.sleep(seconds)
            return job.id
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, lambda: asyncio.ensure_future(engine.close(drain=True)))
        await engine.run(processor)
        print("closed", flush=True)

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    """
)


def child(server: RedisServer, queue: str, seconds: float) -> subprocess.Popen[str]:
    env = {**os.environ, **server.env("worker"), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, queue, str(seconds)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,  # dies with pytest, even a killed one
    )


def wait_started(proc: subprocess.Popen[str], count: int) -> list[str]:
    assert proc.stdout is not None
    started = []
    while len(started) < count:
        line = proc.stdout.readline()
        assert line, "the worker process exited early"
        if line.startswith("started"):
            started.append(line.split()[1])
    return started


@pytest.mark.drill
def test_it_should_recover_a_job_after_its_worker_is_killed(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    asyncio.run(add_jobs(redis_server, queue_name, [{"name": "k", "data": {}}]))
    proc = child(redis_server, queue_name, 60)
    try:
        (job_id,) = wait_started(proc, 1)
    finally:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    done: list[str] = []

    async def processor(job: FastJob) -> str:
        done.append(job.id)
        return "recovered"

    async def main() -> None:
        engine = FastEngine(
            queue_name,
            redis_server.connection_kwargs("worker"),
            EngineOptions(stalled_interval_ms=300, drain_delay_seconds=0.2),
        )
        await run_until(engine, processor, lambda: bool(done), timeout=20)

    asyncio.run(main())
    assert done == [job_id]
    base = f"bull:{queue_name}:"
    assert admin_client.hget(base + job_id, "returnvalue") == '"recovered"'
    assert admin_client.hget(base + job_id, "atm") == "1"
    assert admin_client.hget(base + job_id, "stc") == "1"


@pytest.mark.drill
def test_it_should_finish_active_jobs_and_stop_fetching_on_sigterm(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    jobs = [{"name": "s", "data": {"i": i}} for i in range(12)]
    asyncio.run(add_jobs(redis_server, queue_name, jobs))
    proc = child(redis_server, queue_name, 0.5)
    try:
        started = wait_started(proc, 5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "closed" in out
    base = f"bull:{queue_name}:"
    completed = set(admin_client.zrange(base + "completed", 0, -1))
    assert set(started) <= completed
    assert admin_client.llen(base + "active") == 0
    assert admin_client.llen(base + "wait") == 12 - len(completed)
