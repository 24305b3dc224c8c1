"""One HTTP port per process: /healthz, /readyz, /metrics.

- /healthz (liveness): the event loop answers, the fetch loop is running and
  made progress within `liveness_stale_seconds`, unless every slot is busy
  (then it has nothing to fetch). A live process whose loop died after a Redis
  restart (taskforcesh/bullmq#2964, #2466) fails it and is restarted.
- /readyz: an authenticated PING over TLS answered within 2 s; 503 while
  draining. The round trip feeds bullmq_redis_roundtrip_seconds, and the
  difference of this clock and Redis's feeds bullmq_worker_clock_skew_seconds.
- /metrics: Prometheus text format.

Served by platform_spec.http_server: three GET routes need no web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol

from platform_spec.http_server import Request, Response, bound_port, start_http_server
from platform_spec.model import Queue
from workers.connection import round_trip_seconds
from workers.engine import Engine
from workers.metrics import WorkerMetrics
from workers.settings import WorkerSettings

READY_TIMEOUT_SECONDS = 2.0


async def clock_skew_seconds(redis: Any) -> float:
    """This process's clock minus Redis's (INFO server_time_usec), half the round trip
    taken off. A worker running ahead makes BullMQ schedule the next tick of a job
    scheduler late (the scheduler repairs it, scheduler/register.py)."""
    before = time.time()
    info = await redis.info("server")
    after = time.time()
    return (before + after) / 2 - int(info["server_time_usec"]) / 1e6


CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


class Observed(Protocol):
    """What the health server reads of a worker (workers.runtime.WorkerRuntime is one);
    a protocol, so this module does not import the runtime that starts it."""

    @property
    def engine(self) -> Engine | None: ...

    @property
    def draining(self) -> bool: ...

    @property
    def metrics(self) -> WorkerMetrics: ...

    @property
    def queue(self) -> Queue: ...

    @property
    def settings(self) -> WorkerSettings: ...

    @property
    def redis(self) -> Any: ...


class HealthServer:
    def __init__(self, runtime: Observed) -> None:
        self.runtime = runtime
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self.server = await start_http_server(self._route, host, port)
        self.port = bound_port(self.server)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    def liveness(self) -> tuple[bool, str]:
        engine = self.runtime.engine
        if engine is None:
            return True, "starting"
        if not engine.alive:
            return self.runtime.draining, "fetch loop stopped"
        idle_for = time.monotonic() - engine.last_progress
        self.runtime.metrics.loop_progress.labels(self.runtime.queue.name).set(
            time.time() - idle_for
        )
        if engine.active >= self.runtime.queue.concurrency:
            return True, "all slots busy"
        if idle_for > self.runtime.settings.liveness_stale_seconds:
            return False, f"fetch loop made no progress for {idle_for:.0f}s"
        return True, "ok"

    async def readiness(self) -> tuple[bool, str]:
        if self.runtime.draining:
            return False, "draining"
        try:
            rtt = await asyncio.wait_for(
                round_trip_seconds(self.runtime.redis), READY_TIMEOUT_SECONDS
            )
        except Exception as exc:
            return False, f"redis unreachable: {type(exc).__name__}"
        self.runtime.metrics.redis_rtt.labels(self.runtime.queue.name).observe(rtt)
        with contextlib.suppress(Exception):  # a gauge, never a reason to be unready
            skew = await asyncio.wait_for(
                clock_skew_seconds(self.runtime.redis), READY_TIMEOUT_SECONDS
            )
            self.runtime.metrics.clock_skew.labels(self.runtime.queue.name).set(skew)
        return True, "ok"

    async def _route(self, request: Request) -> Response:
        if request.path == "/healthz":
            ok, why = self.liveness()
        elif request.path == "/readyz":
            ok, why = await self.readiness()
        elif request.path == "/metrics":
            self.liveness()  # refresh the progress gauge
            return Response(200, self.runtime.metrics.render(), CONTENT_TYPE_METRICS)
        else:
            return Response.text(404, "not found\n")
        return Response.text(200 if ok else 503, f"{why}\n")
