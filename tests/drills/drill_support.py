"""Shared pieces of the fault drills: spec, processes, producers, counting, figures.

Processes are started with local_stack.processes (what `scripts/local` runs);
the tick check is the scheduler tests' own (tests/scheduler_harness.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from bullmq import Queue as BullQueue
from drill_handlers import keys
from scheduler_harness import assert_one_job_per_tick

from local_stack.processes import PlatformProcess, scheduler_process, worker_process
from local_stack.processes import write_spec_file as write_spec_file
from local_stack.redis_server import RedisServer
from platform_spec.keys import DEFAULT_PREFIX, QueueKeys
from platform_spec.model import PlatformSpec
from workers.runs import parse_tick_id

HERE = Path(__file__).resolve().parent

__all__ = ["assert_one_job_per_tick"]

# Short locks so a killed worker's jobs come back in seconds; a job may stall
# many times in a drill that kills workers over and over (BullMQ's default of 1
# would fail a job that is caught in two kills, which is not what we measure).
FAST_WORKER_ENV = {
    "BULLMQ_PLATFORM_WORKER_LOCK_DURATION_MS": "2000",
    "BULLMQ_PLATFORM_WORKER_STALLED_INTERVAL_MS": "1000",
    "BULLMQ_PLATFORM_WORKER_MAX_STALLED_COUNT": "1000",
    "BULLMQ_PLATFORM_WORKER_DRAIN_DELAY_SECONDS": "0.5",
    "BULLMQ_PLATFORM_WORKER_DRAIN_MARGIN_SECONDS": "1",
}
HANDLERS = "drill_handlers"


def drill_spec(
    queue: str, *, schedules: list[dict[str, Any]] | None = None, **queue_fields: Any
) -> PlatformSpec:
    """A dev spec whose only queue is `queue`, served by drill_handlers, every job kept."""
    q: dict[str, Any] = {
        "name": queue,
        "handler": HANDLERS,
        "jobs": [{"name": "work"}, {"name": "tick"}],
        "concurrency": 8,
        "attempts": 1,
        "backoff": {"type": "fixed", "delayMs": 0},
        "jobTimeoutSeconds": 20,
        "terminationGracePeriodSeconds": 30,
        "removeOnComplete": {"count": 100_000},
    }
    q.update(queue_fields)
    return PlatformSpec.model_validate(
        {
            "environment": "dev",
            "redis": {"auth": {"adminEnabled": True}},
            "fullnameOverride": f"d-{uuid.uuid4().hex[:10]}",
            "queues": [q],
            "schedules": schedules or [],
            "maintenanceQueue": queue,
            "scheduler": {"reconcileIntervalSeconds": 5},
        }
    )


def workers(
    server: RedisServer, spec: PlatformSpec, tmp: Path, count: int, **kwargs: Any
) -> list[PlatformProcess]:
    """`count` started `python -m workers` processes for the spec's queue."""
    spec_file = write_spec_file(tmp / "spec.json", spec)
    queue = spec.queues[0].name
    env = {**FAST_WORKER_ENV, **kwargs.pop("extra_env", {})}
    return [
        worker_process(
            server,
            spec,
            spec_file,
            queue,
            tmp / "logs",
            name=f"worker-{i}",
            extra_env=env,
            pythonpath=[HERE],
            **kwargs,
        ).start()
        for i in range(count)
    ]


def schedulers(
    server: RedisServer,
    spec: PlatformSpec,
    tmp: Path,
    count: int,
    extra_env: dict[str, str] | None = None,
) -> list[PlatformProcess]:
    spec_file = write_spec_file(tmp / "spec.json", spec)
    return [
        scheduler_process(
            server, spec_file, tmp / "logs", name=f"scheduler-{i}", extra_env=extra_env
        ).start()
        for i in range(count)
    ]


def admin(server: RedisServer) -> redis.Redis:
    return redis.Redis(**server.connection_kwargs("admin"), decode_responses=True, socket_timeout=5)


async def add_jobs(
    server: RedisServer,
    queue: str,
    count: int,
    data: Callable[[int], dict[str, Any]],
    first: int = 0,
) -> list[str]:
    """Add `count` `work` jobs (ids `j<n>`, n from `first`) in bulk; their ids."""
    producer = BullQueue(
        queue, {"connection": server.connection_kwargs("worker"), "prefix": "bull"}
    )
    try:
        ids: list[str] = []
        for start in range(first, first + count, 250):
            batch = [
                {"name": "work", "data": data(n), "opts": {"jobId": f"j{n}"}}
                for n in range(start, min(start + 250, first + count))
            ]
            ids += [str(job.id) for job in await producer.addBulk(batch)]
        return ids
    finally:
        await producer.close()


def add(
    server: RedisServer, queue: str, count: int, seconds: float = 0.0, first: int = 0
) -> list[str]:
    return asyncio.run(add_jobs(server, queue, count, lambda n: {"seconds": seconds}, first))


@dataclass
class Feeder:
    """Keeps `work` jobs waiting while a drill waits for a condition on busy workers.

    A drill that waits for "worker N holds 2 jobs" must not race the machine:
    on a fast one a fixed batch is done before the condition is checked. The
    feeder tops the queue up whenever fewer than `backlog` jobs wait, so the
    condition can always come true; what it adds is bounded by what the
    workers take. `sent` is the total to expect done.
    """

    server: RedisServer
    client: redis.Redis
    queue: str
    seconds: float = 0.0
    backlog: int = 8
    sent: int = 0

    def add(self, count: int) -> None:
        add(self.server, self.queue, count, self.seconds, first=self.sent)
        self.sent += count

    def top_up(self) -> None:
        waiting = int(self.client.llen(QueueKeys(DEFAULT_PREFIX, self.queue).wait))
        if waiting < self.backlog:
            self.add(self.backlog)

    def until(self, check: Callable[[], bool], timeout: float, pause: float = 0.1) -> bool:
        """Top up and poll `check` until it holds or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            self.top_up()
            time.sleep(pause)
        return check()


@dataclass
class Runs:
    """What the drill handlers recorded: distinct jobs done and total executions."""

    done: set[str]
    runs: dict[str, int]

    @property
    def executions(self) -> int:
        return sum(self.runs.values())

    @property
    def duplicated(self) -> int:
        return self.executions - len(self.runs)


def runs(client: redis.Redis, queue: str) -> Runs:
    k = keys("bull", queue)
    return Runs(
        set(client.smembers(k["done"])),
        {i: int(n) for i, n in client.hgetall(k["runs"]).items()},
    )


def work_runs(seen: Runs) -> Runs:
    """Only the `work` jobs (ids `j<n>`), not schedule ticks."""
    return Runs(
        {i for i in seen.done if i.startswith("j")},
        {i: n for i, n in seen.runs.items() if i.startswith("j")},
    )


def tick_times(
    client: redis.Redis, queue: str, schedule_id: str
) -> tuple[list[int], dict[int, float]]:
    """Tick times (ms) of `schedule_id` that ran (once per execution), and when each ran."""
    k = keys("bull", queue)
    ticks: list[int] = []
    ran_at: dict[int, float] = {}
    # One MULTI for both hashes: the handler writes them in one MULTI too, so a
    # tick that runs between two separate reads cannot show in one and not the other.
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(k["ran_at"])
    pipe.hgetall(k["runs"])
    at, runs = pipe.execute()
    for job_id, n in runs.items():
        tick = parse_tick_id(job_id)
        if tick and tick[0] == schedule_id:
            ticks += [tick[1]] * int(n)
            ran_at[tick[1]] = float(at[job_id])
    return sorted(ticks), ran_at


def counts(client: redis.Redis, queue: str) -> dict[str, int]:
    base = f"bull:{queue}"
    pipe = client.pipeline(transaction=False)
    for key in ("wait", "active"):
        pipe.llen(f"{base}:{key}")
    for key in ("prioritized", "delayed", "completed", "failed"):
        pipe.zcard(f"{base}:{key}")
    names = ("wait", "active", "prioritized", "delayed", "completed", "failed")
    return dict(zip(names, (int(n) for n in pipe.execute()), strict=True))


def wait_until(check: Callable[[], bool], timeout: float, pause: float = 0.1) -> bool:
    """Poll `check` until true or `timeout` seconds pass (bounded); the caller asserts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(pause)
    return check()


def drained(client: redis.Redis, queue: str, expected: int) -> Callable[[], bool]:
    def check() -> bool:
        c = counts(client, queue)
        finished = c["completed"] + c["failed"] >= expected
        return finished and c["wait"] + c["active"] + c["prioritized"] + c["delayed"] == 0

    return check


@dataclass
class Figures:
    """The figures every drill prints; `check()` fails on any loss."""

    drill: str
    sent: int
    completed: int
    duplicated: int
    lost: int
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> str:
        more = "".join(f", {k}={v}" for k, v in self.extra.items())
        return (
            f"[drill] {self.drill}: sent={self.sent}, completed={self.completed}, "
            f"duplicated={self.duplicated}, lost={self.lost}{more}"
        )

    def check(self) -> None:
        print(self.report())
        assert self.lost == 0, self.report()


def stop(processes: list[PlatformProcess]) -> None:
    for p in processes:
        if p.running:
            p.kill()
