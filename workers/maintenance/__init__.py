"""The four maintenance jobs (cleanup, health check, metrics aggregation, retention).

They run in the worker of the spec's maintenance queue; its handler module
(workers/handlers/maintenance.py) calls `run_maintenance` with the worker's
Redis client (`redis.asyncio.Redis`, `decode_responses=True`, ACL user
`worker`). Each job works on every queue of the spec, stores its report in
Redis (`<prefix>:_platform:maintenance:last`) and returns it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from platform_spec.model import PlatformSpec
from workers.maintenance.cleanup import cleanup
from workers.maintenance.health import health_check
from workers.maintenance.retention import enforce_retention
from workers.maintenance.rollups import aggregate_metrics

Job = Callable[[aioredis.Redis, PlatformSpec, dict[str, Any]], Awaitable[dict[str, Any]]]

JOBS: dict[str, Job] = {
    "daily-cleanup": cleanup,
    "health-check": health_check,
    "metrics-aggregate": aggregate_metrics,
    "retention-enforce": enforce_retention,
}
MAINTENANCE_JOBS = tuple(JOBS)


async def run_maintenance(
    job_name: str, payload: dict[str, Any], *, redis: Any, spec: PlatformSpec
) -> dict[str, Any]:
    """Run one maintenance job on the whole platform; returns its report (JSON-able)."""
    try:
        job = JOBS[job_name]
    except KeyError:
        raise ValueError(
            f"unknown maintenance job {job_name!r} (known: {', '.join(JOBS)})"
        ) from None
    started = time.time()
    report = await job(redis, spec, dict(payload or {}))
    report = {"job": job_name, "startedAt": started, "seconds": time.time() - started, **report}
    await redis.hset(spec.platform_keys().maintenance_reports, job_name, json.dumps(report))
    return report
