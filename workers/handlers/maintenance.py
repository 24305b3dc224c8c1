"""Queue of the spec's `maintenanceQueue`: the four platform maintenance jobs.

The work itself lives in `workers.maintenance.run_maintenance` (one place);
this module only validates the payloads and hands over a Redis client.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workers.maintenance import run_maintenance
from workers.registry import JobContext, Payload, Registry

registry = Registry()


class DailyCleanup(Payload):
    dry_run: bool = False


class HealthCheck(Payload):
    pass


class MetricsAggregate(Payload):
    window_seconds: int | None = Field(None, ge=1)


class RetentionEnforce(Payload):
    dry_run: bool = False


def _register(name: str, model: type[Payload]) -> None:
    async def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
        data = payload.model_dump(by_alias=True, exclude_none=True)
        result: dict[str, Any] = await run_maintenance(
            ctx.name, data, redis=ctx.redis, spec=ctx.spec
        )
        return result

    handle.__name__ = name.replace("-", "_")
    registry.add_handler(name, model, handle)


for _name, _model in (
    ("daily-cleanup", DailyCleanup),
    ("health-check", HealthCheck),
    ("metrics-aggregate", MetricsAggregate),
    ("retention-enforce", RetentionEnforce),
):
    _register(_name, _model)
