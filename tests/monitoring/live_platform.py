"""A small live platform with monitoring for the live-scrape test: own Redis (it is stopped
on purpose), the scheduler, workers, redis_exporter and Prometheus, all dying with pytest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from bullmq import Queue as BullQueue
from pydantic import SecretStr

from local_stack.processes import (
    PlatformProcess,
    scheduler_process,
    worker_process,
    write_spec_file,
)
from local_stack.redis_server import RedisServer, local_spec
from local_stack.samples import Planned, enqueue
from monitoring.prometheus import Prometheus
from monitoring.stack import MonitoringStack
from platform_spec.model import PlatformSpec
from platform_spec.settings import RedisSettings
from workers.connection import bullmq_connection

# The alert thresholds of the staged conditions (the defaults: 1000 waiting, 100 failed).
WAITING_THRESHOLD, FAILED_THRESHOLD = 5, 3
QUEUES = ("agent-execution", "background-tasks", "scheduled-jobs")
# The schedule staged as missed (2 intervals = 20 s). A cron, not everyMs: BullMQ adds an
# `every` scheduler's first job at once, which would be a backlog on the idle queue.
TICK_CRON = "*/10 * * * * *"
STALL_ENV = {"BULLMQ_PLATFORM_WORKER_STALLED_INTERVAL_MS": "1000"}


def live_spec() -> PlatformSpec:
    defaults = PlatformSpec()
    return local_spec(
        queues=[defaults.queue(q).model_dump(by_alias=True, mode="json") for q in QUEUES],
        # health-check every 4 s (it finds the stuck job). Its own missed-schedule alert may
        # flap: the scheduler refreshes last-success every reconcile interval (5 s), longer
        # than this interval; the test never asserts on it.
        schedules=[
            {"name": "health-check", "queue": "scheduled-jobs", "jobName": "health-check",
             "everyMs": 4000},
            {"name": "metrics-aggregate", "queue": "scheduled-jobs",
             "jobName": "metrics-aggregate", "everyMs": 5000},
            {"name": "agent-tick", "queue": "agent-execution", "jobName": "execute-agent",
             "cron": TICK_CRON, "payload": {"agentId": "tick", "input": "Tick."}},
        ],
        scheduler={"reconcileIntervalSeconds": 5},
        monitoring={
            "prometheusRule": True,
            "alerts": {
                "waitingThreshold": WAITING_THRESHOLD,
                "failedThreshold": FAILED_THRESHOLD,
                "stuckSeconds": 1,
            },
        },
    )  # fmt: skip


@dataclass
class LivePlatform:
    """Everything of the live test; `processes` by name ("scheduler", "worker <queue>")."""

    root: Path
    spec: PlatformSpec = field(default_factory=live_spec)
    server: RedisServer | None = None
    processes: dict[str, PlatformProcess] = field(default_factory=dict)
    monitoring: MonitoringStack | None = None
    started_at: float = 0.0

    @property
    def prometheus(self) -> Prometheus:
        assert self.monitoring is not None and self.monitoring.prometheus is not None
        return self.monitoring.prometheus

    def start(self, *, idle_queue: str) -> None:
        """Redis, scheduler and a worker per queue (`idle_queue`'s not started yet)."""
        self.started_at = time.time()
        self.server = RedisServer(self.root / "redis", spec=self.spec)
        self.server.start()
        spec_file = write_spec_file(self.root / "spec.json", self.spec)
        logs = self.root / "logs"
        procs = [scheduler_process(self.server, spec_file, logs)]
        procs += [
            worker_process(self.server, self.spec, spec_file, q, logs, extra_env=STALL_ENV)
            for q in QUEUES
        ]
        for p in procs:
            self.processes[p.name] = p
            if p.name != f"worker {idle_queue}":
                p.start()
        self.monitoring = MonitoringStack(
            self.server, procs, self.root / "monitoring", rule_for="2s"
        ).start()

    def stop(self) -> None:
        for p in self.processes.values():
            p.terminate(timeout=10)
        if self.monitoring is not None:
            self.monitoring.stop()
        if self.server is not None:
            self.server.stop()

    # ------------------------------------------------------------ staging

    def client(self, role: str = "admin") -> redis.Redis:
        assert self.server is not None
        return redis.Redis(**self.server.connection_kwargs(role), decode_responses=True)

    def settings(self) -> RedisSettings:
        assert self.server is not None and self.server.tls is not None
        return RedisSettings(
            host="127.0.0.1",
            port=self.server.port,
            username="worker",
            password=SecretStr(self.server.passwords["worker"]),
            ca_file=self.server.tls.ca_cert,
            secrets_dir=self.root / "no-secrets",
        )

    def enqueue(self, queue: str, name: str, data: dict[str, Any], count: int) -> list[str]:
        jobs = [Planned(queue, name, data) for _ in range(count)]
        return asyncio.run(enqueue(self.spec, self.settings(), jobs))

    def _on_queue(self, queue: str, action: Callable[[BullQueue], Awaitable[Any]]) -> None:
        async def run() -> None:
            q = BullQueue(queue, {"connection": bullmq_connection(self.settings()),
                                  "prefix": self.spec.key_prefix})  # fmt: skip
            try:
                await action(q)
            finally:
                await q.close()

        asyncio.run(run())

    def clean_failed(self, queue: str) -> None:
        self._on_queue(queue, lambda q: q.clean(0, 1000, "failed"))

    def remove_schedule(self, queue: str, schedule: str) -> None:
        """Delete a job scheduler by hand: drift the scheduler repairs (and counts)."""
        self._on_queue(queue, lambda q: q.removeJobScheduler(schedule))


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float = 60.0,
    show: Callable[[], object] = lambda: "",
) -> float:
    """Poll `check` (a Prometheus API read) until true; seconds it took. On timeout the
    error carries `show()` (e.g. the alerts Prometheus has)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout}s: {what}; last seen: {show()}")
