"""The four maintenance jobs (cleanup, health check, metrics aggregation, retention).

They run in the worker of the spec's maintenance queue; its handler module
(workers/handlers/maintenance.py) calls `run_maintenance`. Placeholder until
the scheduler issue lands.
"""

from __future__ import annotations

from typing import Any

from platform_spec.model import PlatformSpec

MAINTENANCE_JOBS = ("daily-cleanup", "health-check", "metrics-aggregate", "retention-enforce")


async def run_maintenance(
    job_name: str, payload: dict[str, Any], *, redis: Any, spec: PlatformSpec
) -> dict[str, Any]:
    """Run one maintenance job on the whole platform; returns its report."""
    raise NotImplementedError(job_name)
