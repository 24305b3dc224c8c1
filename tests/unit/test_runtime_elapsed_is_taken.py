"""A job put back (Deferred) or moved by its handler (JobMoved) reaches no engine hook, so
the runtime must not keep its run time for one: such entries stayed for the process's life.
Nor may a finish that never reaches a hook (Redis refused it: the lock was lost) leave one
for good: the runtime keeps at most ELAPSED_KEPT."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.handler import BenchJob
from bench.subjects import bench_spec
from platform_spec.settings import RedisSettings, RuntimeSettings
from workers.engine import JobView
from workers.errors import Deferred, JobMoved
from workers.job import JobServices
from workers.registry import JobContext, Registry
from workers.runtime import ELAPSED_KEPT, WorkerRuntime

registry = Registry()


@registry.job("noop", BenchJob)
async def moved(payload: BenchJob, ctx: JobContext) -> Any:
    raise JobMoved("waiting for its children")


@registry.job("io", BenchJob)
async def put_back(payload: BenchJob, ctx: JobContext) -> Any:
    raise Deferred(1000, "Redis is full (maxmemory)")


@registry.job("done", BenchJob)
async def done(payload: BenchJob, ctx: JobContext) -> Any:
    return payload.i


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> WorkerRuntime:
    # Nothing here connects; should that change, it must not reach a real Redis.
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_PORT", "1")
    rt = WorkerRuntime(bench_spec("q", 1), "q", RedisSettings(), RuntimeSettings())
    rt.registry = registry
    rt.lanes[0].services = JobServices(keys=None, backend=None, redis=None, enqueue=rt.enqueue)
    return rt


def _view(name: str, job_id: str) -> JobView:
    return JobView(
        id=job_id, name=name, data={"i": 1}, attempts_made=0, max_attempts=1, timestamp_ms=0
    )


@pytest.mark.parametrize(("name", "error"), [("noop", JobMoved), ("io", Deferred)])
def test_it_should_keep_no_run_time_for_a_job_no_hook_will_see(
    runtime: WorkerRuntime, name: str, error: type[Exception]
) -> None:
    async def run_all() -> None:
        for i in range(50):
            with pytest.raises(error):
                await runtime.process(_view(name, f"j{i}"))
        await runtime.deadlines.close()

    asyncio.run(run_all())
    assert runtime._elapsed == {}
    series = runtime.metrics.series(name)
    assert series.duration.counts[-1] + sum(series.duration.counts[:-1]) == 50  # still timed
    assert series.active.value == 0


def test_it_should_keep_a_bounded_number_of_run_times_whose_hook_never_came(
    runtime: WorkerRuntime,
) -> None:
    """Completed jobs whose finish hook never runs (as after a refused finish): past
    ELAPSED_KEPT entries the oldest half goes, the newest stay; a job run again moves last."""

    async def run(i: int) -> None:
        assert await runtime.process(_view("done", f"j{i}")) == 1

    async def run_all() -> None:
        await run(0)
        for i in range(1, ELAPSED_KEPT):
            await run(i)
        await run(0)  # run again (stalled, then fetched here): now the newest
        for i in range(ELAPSED_KEPT, ELAPSED_KEPT + 20):
            await run(i)
        await runtime.deadlines.close()

    asyncio.run(run_all())
    kept = runtime._elapsed
    assert ELAPSED_KEPT // 2 <= len(kept) <= ELAPSED_KEPT
    assert ("q", "j1") not in kept and ("q", "j0") in kept
    assert all(("q", f"j{i}") in kept for i in range(ELAPSED_KEPT - 100, ELAPSED_KEPT + 20))
    # A hook that does come still finds its job's time.
    runtime.on_completed(_view("done", f"j{ELAPSED_KEPT + 19}"), 1)
    assert ("q", f"j{ELAPSED_KEPT + 19}") not in runtime._elapsed
