"""Drill (issue 25, item 3): a full Redis degrades, it does not deadlock.

With noeviction, a Redis filled to maxmemory refuses the workers' fetches as
well as the producers' adds, so nothing drains. The platform refuses its
producers at `redis.producerMemoryLimitPercent` of maxmemory (workers/memory_guard.py)
and keeps the rest as a reserve for the workers. Here a 16 MB Redis holds a
backlog of padded jobs plus filler up to past the producers' limit:

- the health check reports `redis_nearly_full` (the finding the scheduler exports
  as `bullmq_platform_health_findings`);
- `ops enqueue` and the platform's own producers are refused with a message
  naming the field, while Redis itself still accepts writes (the refusal is the
  platform's, before maxmemory);
- a worker (one process, never restarted) drains the whole backlog exactly once
  while producers are being refused, and memory falls;
- once the filler is freed an enqueue is accepted and runs.

Before the producers' limit existed the first `ops enqueue` was accepted and
the drill failed there.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from bullmq import Queue as BullQueue
from drill_support import (
    FAST_WORKER_ENV,
    HERE,
    Figures,
    add_jobs,
    admin,
    counts,
    drill_spec,
    runs,
    stop,
    wait_until,
    write_spec_file,
)

from local_stack.processes import stop_all, worker_process
from local_stack.redis_server import RedisServer
from platform_spec.model import PlatformSpec
from platform_spec.stack import REPO_ROOT
from workers.maintenance.health import health_check
from workers.memory_guard import ProducerGuard, RedisNearlyFull, counted_memory

pytestmark = [pytest.mark.redis, pytest.mark.drill]
JOBS = 300
PAD = 8 * 1024
FILLER = 32 * 1024
# Fill to this share of maxmemory: past the producers' 85 %, short of the 100 % where
# Redis itself refuses every write.
FILL_PERCENT = 90


def _used(client: redis.Redis) -> tuple[int, int]:
    """(memory counted against maxmemory, maxmemory): what the guard and health check read.

    Raw `used_memory` also holds the AOF buffer (`mem_not_counted_for_evict`), which
    can be a megabyte on a slow disk; filling by it once left the counted share at 83 %.
    """
    memory = client.info("memory")
    return counted_memory(memory), int(memory["maxmemory"])


def _fill(client: redis.Redis) -> int:
    """Filler strings until counted memory passes FILL_PERCENT of maxmemory (bounded)."""
    for n in range(10_000):
        used, maxmemory = _used(client)
        if used * 100 >= maxmemory * FILL_PERCENT:
            return n
        client.set(f"bull:filler:{n}", "x" * FILLER)
    raise AssertionError("Redis never reached the fill level")


def _enqueue(env: dict[str, str], queue: str, n: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers", "ops", "enqueue", queue, "work", "--job-id", f"late{n}"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _health(server: RedisServer, spec: PlatformSpec) -> dict[str, Any]:
    client = aioredis.Redis(**server.connection_kwargs("worker"), decode_responses=True)
    try:
        return await health_check(client, spec, {})
    finally:
        await client.aclose()


async def _producer_attempts(
    server: RedisServer, spec: PlatformSpec, queue: str, done: Callable[[], bool]
) -> tuple[int, int]:
    """The platform's producer path, tried while the worker drains: (refused, accepted)."""
    producer = BullQueue(
        queue, {"connection": server.connection_kwargs("worker"), "prefix": spec.key_prefix}
    )
    guard = ProducerGuard(producer.client, spec.redis.producer_memory_limit_percent)
    refused = accepted = 0
    try:
        for n in range(2000):  # bounded; the drain ends it long before
            if done():
                break
            try:
                await guard.check()
            except RedisNearlyFull:
                refused += 1
            else:
                await producer.add("work", {}, {"jobId": f"during{n}"})
                accepted += 1
            await asyncio.sleep(0.05)
    finally:
        await producer.close()
    return refused, accepted


@pytest.mark.parametrize("engine", ["fast", "stock"])
def test_it_should_drain_a_nearly_full_redis_while_refusing_producers(
    private_redis: Callable[..., RedisServer], queue_name: str, tmp_path: Path, engine: str
) -> None:
    server = private_redis(maxmemory="16mb")
    spec = drill_spec(queue_name, removeOnComplete={"count": 0})
    client = admin(server)
    spec_file = write_spec_file(tmp_path / "spec.json", spec)
    worker = worker_process(
        server,
        spec,
        spec_file,
        queue_name,
        tmp_path / "logs",
        engine=engine,
        extra_env=FAST_WORKER_ENV,
        pythonpath=[HERE],
    )
    try:
        asyncio.run(add_jobs(server, queue_name, JOBS, lambda n: {"pad": "p" * PAD}))
        fillers = _fill(client)
        used_full, maxmemory = _used(client)
        report = asyncio.run(_health(server, spec))
        refused = _enqueue(worker.env, queue_name, 0)
        redis_still_writes = bool(client.set("bull:filler:probe", "x"))
        worker.start()
        attempts = asyncio.run(
            _producer_attempts(server, spec, queue_name, lambda: _drained(client, queue_name))
        )
        done = wait_until(lambda: _drained(client, queue_name), timeout=120)
        used_drained, _ = _used(client)
        for n in range(fillers):
            client.unlink(f"bull:filler:{n}")
        accepted = _enqueue(worker.env, queue_name, 1)
        late_ran = wait_until(lambda: "late1" in runs(client, queue_name).done, timeout=60)
        seen = runs(client, queue_name)
        left = counts(client, queue_name)
        starts = worker.starts
        codes = stop_all([worker])
    finally:
        stop([worker])
        client.close()
    ours = {i for i in seen.done if i.startswith("j")}
    findings = [f["check"] for f in report["findings"]]
    figures = Figures(
        f"nearly full Redis ({engine})",
        sent=JOBS,
        completed=len(ours),
        duplicated=seen.duplicated,
        lost=JOBS - len(ours),
        extra={
            "used_at_fill_mb": round(used_full / 2**20, 2),
            "used_after_drain_mb": round(used_drained / 2**20, 2),
            "maxmemory_mb": round(maxmemory / 2**20, 2),
            "health_findings": findings,
            "enqueue_exit_while_full": refused.returncode,
            "producer_checks_refused/accepted_during_drain": attempts,
            "enqueue_exit_after_free": accepted.returncode,
            "worker_starts": starts,
            "left": left,
        },
    )
    figures.check()
    assert "redis_nearly_full" in findings, report
    assert refused.returncode == 3, refused.stderr
    assert "producerMemoryLimitPercent" in refused.stderr and "Traceback" not in refused.stderr
    assert redis_still_writes  # the refusal was the platform's, before maxmemory
    assert attempts[0] > 0, attempts  # producers were refused while the worker drained
    assert done and seen.duplicated == 0 and len(ours) == JOBS
    assert used_drained < used_full
    assert accepted.returncode == 0, accepted.stderr
    assert late_ran
    assert starts == 1 and all(code == 0 for code in codes.values()), codes


def _drained(client: redis.Redis, queue: str) -> bool:
    c = counts(client, queue)
    done = {i for i in runs(client, queue).done if i.startswith("j")}
    return len(done) >= JOBS and c["wait"] + c["active"] == 0
