"""`python -m scheduler`: register the spec's schedules and keep them in shape.

The spec comes from BULLMQ_PLATFORM_SPEC_FILE (the chart's rendered values),
Redis from BULLMQ_PLATFORM_REDIS_* and the mounted secrets directory.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from platform_spec.settings import RedisSettings, RuntimeSettings, ScalingSettings
from scheduler.logs import setup_logging
from scheduler.register import ReconcileReport, Registrar
from scheduler.schedules import declared_schedules
from scheduler.service import serve
from workers.connection import connect
from workers.maintenance.rollups import read_rollups

app = typer.Typer(
    help="The scheduler service: BullMQ job schedulers from the spec, drift repair, metrics.",
    no_args_is_help=False,
    add_completion=False,
)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Reconcile once, print nothing more, and exit.")
    ] = False,
) -> None:
    """Run the service (default): reconcile now and every scheduler.reconcileIntervalSeconds,
    serve /healthz and /metrics on BULLMQ_PLATFORM_HTTP_PORT, and KEDA's /scaling/<queue>
    over HTTPS on BULLMQ_PLATFORM_SCALING_PORT when set."""
    if ctx.invoked_subcommand is not None:
        return
    settings = RuntimeSettings()
    setup_logging(settings.log_format, settings.log_level or "info")
    spec = settings.load_spec()
    redis = RedisSettings()
    asyncio.run(
        serve(
            spec,
            redis.redis_kwargs(),
            http_host=settings.http_host,
            http_port=settings.http_port,
            once=once,
            scaling=ScalingSettings(),
        )
    )


@app.command()
def reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """One reconcile pass; exit 1 if any schedule failed or the lock stayed busy."""
    settings = RuntimeSettings()
    setup_logging(settings.log_format, "WARNING")
    spec = settings.load_spec()

    async def once() -> ReconcileReport:
        registrar = Registrar(spec, RedisSettings().redis_kwargs())
        try:
            return await registrar.reconcile()
        finally:
            await registrar.close()

    report = asyncio.run(once())
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for key in ("created", "updated", "adopted", "unchanged", "removed", "foreign"):
            names: list[str] = getattr(report, key)
            typer.echo(f"{key:>10}: {', '.join(names) or '-'}")
        for schedule_id, reason in report.repaired.items():
            typer.echo(f"  repaired: {schedule_id} ({reason})")
        for schedule_id, error in report.errors.items():
            typer.echo(f"     error: {schedule_id}: {error}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("list")
def list_schedules(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The schedules the spec declares (no Redis needed)."""
    spec = RuntimeSettings().load_spec()
    rows = [
        {
            "id": d.id,
            "queue": d.queue,
            "job": d.job_name,
            "repeat": d.repeat_opts,
            "overlap": d.overlap,
            "enabled": d.enabled,
        }
        for d in declared_schedules(spec)
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['id']:<24} {row['queue']:<20} {json.dumps(row['repeat'])}")


@app.command()
def rollups(
    queue: Annotated[str, typer.Option("--queue", help="Queue name.")],
    hours: Annotated[int, typer.Option("--hours", help="Newest hours to show.")] = 24,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hourly metric rollups of a queue (written by the metrics-aggregate job)."""
    spec = RuntimeSettings().load_spec()

    async def read() -> dict[str, dict[str, float]]:
        client = connect(RedisSettings().redis_kwargs(), decode_responses=True)
        try:
            return await read_rollups(client, spec, queue, hours)
        finally:
            await client.aclose()

    data = asyncio.run(read())
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(
        f"{'hour (UTC)':<12} {'done':>7} {'failed':>7} {'jobs/s':>8} {'avg s':>8} {'p95 s':>8}"
    )
    for label, r in data.items():
        typer.echo(
            f"{label:<12} {r.get('completed', 0):>7.0f} {r.get('failed', 0):>7.0f} "
            f"{r.get('throughput_per_second', 0):>8.3f} {r.get('processing_seconds_avg', 0):>8.3f} "
            f"{r.get('processing_seconds_p95', 0):>8.3f}"
        )


if __name__ == "__main__":
    app()
