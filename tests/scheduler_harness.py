"""Helpers of the scheduler tests: a per-test stack, scheduler processes, a tick recorder.

Each test gets its own queue and its own stack owner (fullnameOverride), so the
ownership hash and the schedules never overlap between tests on the shared
Redis fixture. The key prefix stays `bull` (the ACL users' key pattern).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from bullmq import Worker

from local_stack.redis_server import RedisServer, free_port, local_spec
from platform_spec.model import PlatformSpec
from workers.cron import patch_bullmq_cron
from workers.runs import parse_tick_id

REPO = Path(__file__).resolve().parents[1]
EVERY_SECOND = "* * * * * *"


def make_spec(queue: str, schedules: list[dict[str, Any]], **overrides: Any) -> PlatformSpec:
    """A dev spec: the default catalog plus `queue`, only `schedules`, a fresh owner."""
    base = local_spec()
    queues = [q.model_dump(by_alias=True, mode="json") for q in base.queues]
    queues.append(
        {
            "name": queue,
            "handler": "workers.handlers.maintenance",
            "jobs": [{"name": "tick"}, {"name": "tock"}],
            "concurrency": 5,
            **overrides.pop("queue_overrides", {}),
        }
    )
    data: dict[str, Any] = {
        "environment": "dev",
        "redis": {"auth": {"adminEnabled": True}},
        "fullnameOverride": overrides.pop("owner", f"o-{uuid.uuid4().hex[:10]}"),
        "queues": queues,
        "schedules": schedules,
        "scheduler": {"reconcileIntervalSeconds": 5},
    }
    data.update(overrides)
    return PlatformSpec.model_validate(data)


def schedule(queue: str, name: str = "tick", **fields: Any) -> dict[str, Any]:
    out = {"name": name, "queue": queue, "jobName": "tick", "cron": EVERY_SECOND}
    out.update(fields)
    if "everyMs" in fields:
        out.pop("cron")
    return out


def write_spec(path: Path, spec: PlatformSpec) -> Path:
    path.write_text(json.dumps(spec.model_dump(by_alias=True, mode="json")))
    return path


@dataclass
class SchedulerProcess:
    """One `python -m scheduler` subprocess whose JSON log lines are collected."""

    proc: asyncio.subprocess.Process
    http_port: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            raw = await self.proc.stdout.readline()
            if not raw:
                return
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(raw))

    def reports(self) -> list[dict[str, Any]]:
        return [line["report"] for line in self.lines if line.get("event") == "reconciled"]

    async def wait_reconciled(self, count: int = 1, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while len([r for r in self.reports() if r["lock_acquired"]]) < count:
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"scheduler did not reconcile: {self.lines[-5:]}")
            await asyncio.sleep(0.05)
        return [r for r in self.reports() if r["lock_acquired"]][count - 1]

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        if self.reader:
            await self.reader


async def start_scheduler(
    server: RedisServer, spec_file: Path, extra_env: dict[str, str] | None = None
) -> SchedulerProcess:
    port = free_port()
    env = {
        **(extra_env or {}),
        "PATH": os.environ.get("PATH", ""),
        **server.env("scheduler"),
        "BULLMQ_PLATFORM_SPEC_FILE": str(spec_file),
        "BULLMQ_PLATFORM_HTTP_HOST": "127.0.0.1",
        "BULLMQ_PLATFORM_HTTP_PORT": str(port),
        "BULLMQ_PLATFORM_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scheduler",
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    process = SchedulerProcess(proc, port)
    process.reader = asyncio.create_task(process._read())
    return process


@dataclass
class TickRecorder:
    """A bullmq Worker in the test that records every tick it runs (id, wall time)."""

    worker: Worker
    runs: list[tuple[str, float]]

    def ticks(self, schedule_id: str) -> list[int]:
        """Tick times (ms) of `schedule_id` in the order they ran."""
        out = []
        for job_id, _ in self.runs:
            tick = parse_tick_id(job_id)
            if tick and tick[0] == schedule_id:
                out.append(tick[1])
        return out

    def ran_at(self, schedule_id: str) -> dict[int, float]:
        """Tick time (ms) -> when the worker started it (epoch seconds)."""
        out: dict[int, float] = {}
        for job_id, at in self.runs:
            tick = parse_tick_id(job_id)
            if tick and tick[0] == schedule_id:
                out.setdefault(tick[1], at)
        return out

    async def wait_ticks(self, schedule_id: str, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ticks(schedule_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.ticks(schedule_id))} ticks of {schedule_id}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def tick_recorder(server: RedisServer, queue: str) -> AsyncIterator[TickRecorder]:
    patch_bullmq_cron()  # the worker materializes next ticks: same cron math as the scheduler
    runs: list[tuple[str, float]] = []

    async def process(job: Any, token: str) -> str:
        runs.append((str(job.id), time.time()))
        return "ok"

    worker = Worker(
        queue,
        process,
        {"connection": server.connection_kwargs("worker"), "prefix": "bull", "concurrency": 5},
    )
    try:
        yield TickRecorder(worker, runs)
    finally:
        # force: bullmq 3.4.4 close() can hang on an idle fetch (docs/throughput.md)
        await worker.close(force=True)


def assert_one_job_per_tick(
    ticks: list[int],
    *,
    period_ms: int = 1000,
    since_ms: int | None = None,
    ran_at: dict[int, float] | None = None,
) -> dict[str, int]:
    """Every tick ran once (no duplicate), ticks sit on the grid, and no gap since `since_ms`.

    A gap after tick `a` is the worker's, not the scheduler's, when the worker
    only started `a` once the missing tick's time had passed: BullMQ computes
    the next tick when a worker fetches the current one and never back-fills
    (docs/scheduler.md). Such gaps (`late`) happen on a loaded machine; they are
    counted, every other gap fails. Returns figures for the report.
    """
    duplicates = len(ticks) - len(set(ticks))
    ordered = sorted(set(ticks))
    off_grid = [t for t in ordered if (t - ordered[0]) % period_ms]
    window = [t for t in ordered if since_ms is None or t >= since_ms]
    gaps = [(a, b) for a, b in itertools.pairwise(window) if b - a != period_ms]
    ran_at = ran_at or {}
    late = [(a, b) for a, b in gaps if ran_at.get(a, 0) * 1000 >= b - period_ms - 100]
    unexplained = [g for g in gaps if g not in late]
    figures = {
        "ticks": len(ticks),
        "duplicates": duplicates,
        "off_grid": len(off_grid),
        "gaps": len(unexplained),
        "late_worker_gaps": len(late),
    }
    assert duplicates == 0, f"ticks ran twice: {figures}"
    assert not off_grid, f"ticks off the {period_ms} ms grid: {off_grid[:5]}"
    assert not unexplained, f"gaps between ticks: {unexplained[:5]} ({figures})"
    return figures


async def scheduler_count(server: RedisServer, queue: str) -> int:
    client = aioredis.Redis(**server.connection_kwargs("scheduler"), decode_responses=True)
    try:
        return int(await client.zcard(f"bull:{queue}:repeat"))
    finally:
        await client.aclose()


async def pending_ticks(server: RedisServer, queue: str, schedule_id: str) -> list[str]:
    """Tick jobs of `schedule_id` not yet run: delayed, waiting or prioritized."""
    client = aioredis.Redis(**server.connection_kwargs("scheduler"), decode_responses=True)
    try:
        ids = await client.zrange(f"bull:{queue}:delayed", 0, -1)
        ids += await client.lrange(f"bull:{queue}:wait", 0, -1)
        ids += await client.zrange(f"bull:{queue}:prioritized", 0, -1)
    finally:
        await client.aclose()
    return [i for i in ids if i.startswith(f"repeat:{schedule_id}:")]


@contextlib.asynccontextmanager
async def registrar(server: RedisServer, spec: PlatformSpec) -> AsyncIterator[Any]:
    """An in-process Registrar as the `scheduler` ACL user."""
    from scheduler.register import Registrar

    reg = Registrar(spec, server.connection_kwargs("scheduler"))
    try:
        yield reg
    finally:
        await reg.close()


async def stage_job(
    client: aioredis.Redis,
    queue: str,
    job_id: str,
    *,
    state: str,
    created_ms: int,
    processed_ms: int | None = None,
    finished_ms: int | None = None,
) -> None:
    """Write a job the way BullMQ stores it (hash + its state's list/set), as a worker would."""
    fields: dict[str, Any] = {"name": "tick", "data": "{}", "opts": "{}", "timestamp": created_ms}
    if processed_ms is not None:
        fields["processedOn"] = processed_ms
    if finished_ms is not None:
        fields["finishedOn"] = finished_ms
    await client.hset(f"bull:{queue}:{job_id}", mapping=fields)
    key = f"bull:{queue}:{state}"
    if state in ("wait", "active", "paused"):
        await client.lpush(key, job_id)
    else:
        await client.zadd(key, {job_id: finished_ms or created_ms})
