"""The scheduler process: reconcile at start and every reconcileIntervalSeconds, serve HTTP.

HTTP (RuntimeSettings.http_port; platform_spec/pod_facts.HTTP_PORT in pods), both with
the last report as JSON:
`/healthz` (liveness) is 200 while the process's loop answers: a Redis outage
is not cured by a restart, so it never fails liveness; `/readyz` is
200 while an authenticated PING answers within READY_TIMEOUT_SECONDS, so an
outage shows as unready and clears as soon as Redis answers again. A reconcile
or refresh pass that hangs on a frozen Redis is cut off after PASS_TIMEOUT
(the pass is retried; its lock expires on its own). `/metrics` is Prometheus
text. With ScalingSettings.port set, a second, HTTPS listener serves KEDA's
`/scaling/<queue>` (scheduler/scaling.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from typing import Any

from platform_spec.http_server import Request, Response, bound_port, start_http_server
from platform_spec.model import PlatformSpec
from platform_spec.settings import ScalingSettings
from scheduler.certificates import ServingCertificate, peer_not_after
from scheduler.metrics import ServiceState, build_registry, render, schedule_intervals
from scheduler.register import Registrar
from scheduler.scaling import ScalingEndpoint, desired_replicas, ensure_queue_meta
from scheduler.watchdog import script_watchdog
from workers.maintenance.health import last_health
from workers.maintenance.rollups import latest_rollups
from workers.runs import refresh_last_success, run_records

log = logging.getLogger("scheduler")
# How often metrics snapshots (last success, health, rollups) are refreshed.
REFRESH_SECONDS = 15.0
# /readyz: an authenticated PING must answer within this.
READY_TIMEOUT_SECONDS = 2.0
# A reconcile or refresh pass longer than this (a frozen Redis) is cancelled and retried.
PASS_TIMEOUT_SECONDS = 30.0


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
        self.serving: ServingCertificate | None = None
        self._redis_tls = redis_tls_target(redis_kwargs)

    # ------------------------------------------------------------ loop

    async def reconcile_once(self) -> None:
        try:
            report = await asyncio.wait_for(self.registrar.reconcile(), PASS_TIMEOUT_SECONDS)
        except Exception as exc:
            log.error("reconcile failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            self.state.reconciles["error"] = self.state.reconciles.get("error", 0) + 1
            return
        self.state.record(report)
        log.info("reconciled", extra={"report": report.as_dict()})
        for schedule_id, reason in report.repaired.items():
            log.warning("drift repaired", extra={"schedule": schedule_id, "reason": reason})

    async def refresh(self) -> None:
        try:
            await asyncio.wait_for(self._refresh(), PASS_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("metrics refresh failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        await self.refresh_certificates()

    async def refresh_certificates(self) -> None:
        """Follow a renewed serving certificate; measure when both certificates expire."""
        expiry = self.state.certificate_expiry
        if self.serving is not None:
            self.serving.reload()
            if self.serving.not_after is not None:
                expiry["scaling-endpoint"] = self.serving.not_after
        if self._redis_tls is not None:
            host, port, context = self._redis_tls
            try:
                expiry["redis"] = await peer_not_after(host, port, context)
            except (OSError, ssl.SSLError, TimeoutError) as exc:
                log.warning("redis certificate not read", extra={"error": str(exc)})

    async def _refresh(self) -> None:
        redis = self.registrar.redis
        self.state.last_success = await refresh_last_success(redis, self.spec)
        self.state.run_records = await run_records(redis, self.spec)
        self.state.health = await last_health(redis, self.spec)
        self.state.rollups = await latest_rollups(redis, self.spec)
        self.state.desired_replicas = await desired_replicas(redis, self.spec)

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

    def reconcile_fresh(self) -> bool:
        """Whether the last successful reconcile is younger than three intervals."""
        age = time.time() - self.state.last_reconcile_ok_at
        return self.state.last_reconcile_ok_at > 0 and age < 3 * self.interval + 10

    async def redis_answers(self) -> str | None:
        """None when an authenticated PING answers in time, else why not."""
        try:
            await asyncio.wait_for(self.registrar.redis.ping(), READY_TIMEOUT_SECONDS)
        except Exception as exc:
            return f"redis unreachable: {type(exc).__name__}"
        return None

    async def handle_http(self, request: Request) -> Response:
        if request.path == "/metrics":
            return Response(200, render(self.registry), "text/plain; version=0.0.4")
        if request.path in ("/healthz", "/readyz"):
            report = self.state.last_report
            doc: dict[str, Any] = {
                "healthy": self.reconcile_fresh(),  # the last reconcile is recent
                "lastReconcileAt": self.state.last_reconcile_ok_at,
                "lastReport": report.as_dict() if report else None,
            }
            if request.path == "/healthz":
                return Response.json(200, {**doc, "live": True})
            problem = await self.redis_answers()
            doc.update(ready=problem is None, problem=problem)
            return Response.json(200 if problem is None else 503, doc)
        return Response.text(404, "not found\n")


def redis_tls_target(redis_kwargs: dict[str, Any]) -> tuple[str, int, ssl.SSLContext] | None:
    """(host, port, verifying context) of a TLS Redis, to read its certificate's expiry."""
    if not redis_kwargs.get("ssl"):
        return None
    ca = redis_kwargs.get("ssl_ca_certs")
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    context.check_hostname = bool(redis_kwargs.get("ssl_check_hostname", True))
    return str(redis_kwargs.get("host", "localhost")), int(redis_kwargs.get("port", 6379)), context


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
        if scaling.cert_dir is not None:
            service.serving = ServingCertificate(scaling.cert_dir, scaling.client_ca_file)
        server = await start_http_server(
            endpoint,
            scaling.host,
            scaling.port,
            ssl_context=service.serving.context if service.serving else None,
        )
        servers.append(server)
        log.info(
            "scaling endpoint listening",
            extra={"port": bound_port(server), "tls": scaling.cert_dir is not None},
        )
    watchdog: asyncio.Task[None] | None = None
    # On a Redis Cluster: one connection per primary (scheduler/watchdog.py).
    if not once:
        state = service.state
        dog = script_watchdog(
            redis_kwargs,
            lambda outcome: state.scripts_killed.update(
                {outcome: state.scripts_killed.get(outcome, 0) + 1}
            ),
        )
        watchdog = asyncio.create_task(dog.run(service.stopping))
    try:
        log.info(
            "scheduler starting",
            extra={"schedules": sorted(service.state.schedules), "owner": service.registrar.owner},
        )
        await service.run(once=once)
    finally:
        if watchdog is not None:
            service.stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watchdog, 5)
        for server in servers:
            server.close()
            await server.wait_closed()
        await service.registrar.close()
        log.info("scheduler stopped")
    return service
