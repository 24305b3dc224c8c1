"""The scheduler process: reconcile at start and every reconcileIntervalSeconds, serve HTTP.

HTTP (RuntimeSettings.http_port; platform_spec/pod_facts.HTTP_PORT in pods): `/healthz`
is 200 while the last successful reconcile is younger than three intervals (a replica
that cannot reach Redis or never gets the lock goes unready / restarts), with the last
report as JSON; `/metrics` is Prometheus text. With ScalingSettings.port set, a second,
HTTPS listener serves KEDA's `/scaling/<queue>` (scheduler/scaling.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

from platform_spec.http_server import Request, Response, bound_port, start_http_server
from platform_spec.model import PlatformSpec
from platform_spec.settings import ScalingSettings
from scheduler.metrics import ServiceState, build_registry, render, schedule_intervals
from scheduler.register import Registrar
from scheduler.scaling import ScalingEndpoint, ensure_queue_meta
from workers.maintenance.health import last_health
from workers.maintenance.rollups import latest_rollups
from workers.runs import refresh_last_success, run_records

log = logging.getLogger("scheduler")
# How often metrics snapshots (last success, health, rollups) are refreshed.
REFRESH_SECONDS = 15.0


class SchedulerService:
    def __init__(self, spec: PlatformSpec, redis_kwargs: dict[str, Any]) -> None:
        self.spec = spec
        self.registrar = Registrar(spec, redis_kwargs)
        self.state = ServiceState(
            schedules={s.name: s.queue for s in spec.schedules if s.enabled},
            intervals=schedule_intervals(spec),
        )
        self.registry = build_registry(self.state)
        self.stopping = asyncio.Event()
        self.interval = float(spec.scheduler.reconcile_interval_seconds)

    # ------------------------------------------------------------ loop

    async def reconcile_once(self) -> None:
        try:
            report = await self.registrar.reconcile()
        except Exception as exc:
            log.error("reconcile failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            self.state.reconciles["error"] = self.state.reconciles.get("error", 0) + 1
            return
        self.state.record(report)
        log.info("reconciled", extra={"report": report.as_dict()})
        for schedule_id, reason in report.repaired.items():
            log.warning("drift repaired", extra={"schedule": schedule_id, "reason": reason})

    async def refresh(self) -> None:
        redis = self.registrar.redis
        try:
            self.state.last_success = await refresh_last_success(redis, self.spec)
            self.state.run_records = await run_records(redis, self.spec)
            self.state.health = await last_health(redis, self.spec)
            self.state.rollups = await latest_rollups(redis, self.spec)
        except Exception as exc:
            log.warning("metrics refresh failed", extra={"error": f"{type(exc).__name__}: {exc}"})

    async def run(self, *, once: bool = False) -> None:
        next_reconcile = 0.0
        while not self.stopping.is_set():
            if time.monotonic() >= next_reconcile:
                await self.reconcile_once()
                # Retry soon when the lock was busy or Redis failed, else wait an interval.
                ok = self.state.last_report is not None and self.state.last_report.ok
                next_reconcile = time.monotonic() + (self.interval if ok else 5.0)
            await self.refresh()
            if once:
                return
            wait = min(REFRESH_SECONDS, max(0.0, next_reconcile - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=max(wait, 0.5))

    # ------------------------------------------------------------ HTTP

    def healthy(self) -> bool:
        age = time.time() - self.state.last_reconcile_ok_at
        return self.state.last_reconcile_ok_at > 0 and age < 3 * self.interval + 10

    async def handle_http(self, request: Request) -> Response:
        if request.path == "/metrics":
            return Response(200, render(self.registry), "text/plain; version=0.0.4")
        if request.path in ("/healthz", "/readyz"):
            report = self.state.last_report
            doc = {
                "healthy": self.healthy(),
                "lastReconcileAt": self.state.last_reconcile_ok_at,
                "lastReport": report.as_dict() if report else None,
            }
            return Response.json(200 if doc["healthy"] else 503, doc)
        return Response.text(404, "not found\n")


async def serve(
    spec: PlatformSpec,
    redis_kwargs: dict[str, Any],
    *,
    http_host: str,
    http_port: int,
    once: bool = False,
    scaling: ScalingSettings | None = None,
) -> SchedulerService:
    """Run the service until SIGTERM/SIGINT (or one pass with `once`)."""
    service = SchedulerService(spec, redis_kwargs)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, service.stopping.set)
    servers: list[asyncio.Server] = []
    if not once:
        server = await start_http_server(service.handle_http, http_host, http_port)
        servers.append(server)
        log.info("http listening", extra={"host": http_host, "port": bound_port(server)})
    if not once and scaling is not None and scaling.port is not None:
        redis = service.registrar.redis
        await ensure_queue_meta(redis, spec)
        endpoint = ScalingEndpoint(redis, spec, scaling.token())
        server = await start_http_server(
            endpoint, scaling.host, scaling.port, ssl_context=scaling.ssl_context()
        )
        servers.append(server)
        log.info(
            "scaling endpoint listening",
            extra={"port": bound_port(server), "tls": scaling.cert_dir is not None},
        )
    try:
        log.info(
            "scheduler starting",
            extra={"schedules": sorted(service.state.schedules), "owner": service.registrar.owner},
        )
        await service.run(once=once)
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
        await service.registrar.close()
        log.info("scheduler stopped")
    return service
