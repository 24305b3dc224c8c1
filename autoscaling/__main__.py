"""`python -m autoscaling`: simulate autoscaling, choose defaults, read a queue's signal."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from autoscaling.hpa import Behavior
from autoscaling.signal import scaling_response
from autoscaling.simulate import (
    Arrivals,
    Result,
    SimConfig,
    burst_curve,
    choose,
    plot,
    simulate,
    trickle_curve,
    wave_curve,
)
from platform_spec.model import Autoscaling, PlatformSpec
from platform_spec.settings import RedisSettings, RuntimeSettings
from platform_spec.stack import load_stack
from workers.connection import connect

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
DEFAULT_PNG = Path(__file__).resolve().parent.parent / "docs" / "autoscaling.png"


class CurveName(StrEnum):
    burst = "burst"
    wave = "wave"
    trickle = "trickle"


class ScalerName(StrEnum):
    metricsApi = "metricsApi"
    redis = "redis"


def spec_config(**overrides: Any) -> SimConfig:
    """A SimConfig with the spec's default autoscaling values (model.py)."""
    auto = Autoscaling()
    behavior = Behavior(
        up_stabilization_seconds=auto.scale_up_stabilization_seconds,
        up_percent=auto.scale_up_percent,
        up_pods=auto.scale_up_pods,
        up_period_seconds=auto.scale_up_period_seconds,
        down_stabilization_seconds=auto.scale_down_stabilization_seconds,
    )
    base = SimConfig(
        min_replicas=auto.min_replicas,
        max_replicas=auto.max_replicas,
        polling_interval_seconds=auto.polling_interval_seconds,
        cooldown_seconds=auto.cooldown_seconds,
        behavior=behavior,
    )
    return replace(base, **overrides)


def make_curve(curve: CurveName, base_rate: float) -> Arrivals:
    if curve is CurveName.burst:
        return burst_curve(base_rate, 10, at=600, length=300)
    if curve is CurveName.wave:
        return wave_curve(base_rate * 10)
    return trickle_curve()


def show(result: Result, as_json: bool) -> None:
    figures = {"curve": result.arrivals.name, "scaler": result.config.scaler, **result.figures()}
    if as_json:
        typer.echo(json.dumps(figures))
        return
    typer.echo(
        f"{figures['curve']:8} {figures['scaler']:10} peak backlog {figures['peak_backlog']:>8}"
        f"  drain {figures['drain_seconds']!s:>5} s  p95 wait {figures['p95_wait_seconds']:>6} s"
        f"  {figures['replica_minutes']:>8} pod-min  max {figures['max_replicas']} pods"
    )


@app.command("simulate")
def simulate_cmd(
    curve: Annotated[list[CurveName], typer.Option(help="Arrival curve(s).")] = [  # noqa: B006
        CurveName.burst,
        CurveName.wave,
        CurveName.trickle,
    ],
    base_rate: Annotated[float, typer.Option(help="Base arrivals, jobs/s (burst: 10x).")] = 2.0,
    throughput: Annotated[float, typer.Option(help="Jobs/s one pod completes.")] = 1.0,
    job_seconds: Annotated[int, typer.Option(help="Seconds a job holds a slot.")] = 10,
    min_replicas: Annotated[int | None, typer.Option(help="Default: spec (trickle: 0).")] = None,
    max_replicas: Annotated[int, typer.Option(help="Most pods.")] = 40,
    pod_startup: Annotated[int, typer.Option(help="Seconds until a new pod serves.")] = 20,
    scaler: Annotated[ScalerName, typer.Option(help="Signal KEDA reads.")] = ScalerName.metricsApi,
    png: Annotated[Path | None, typer.Option(help="Write the plot here.")] = DEFAULT_PNG,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
) -> None:
    """Simulate backlog and pods for arrival curves with the spec's default autoscaling values."""
    results = []
    for name in curve:
        floor = (
            min_replicas if min_replicas is not None else (0 if name is CurveName.trickle else 1)
        )
        cfg = spec_config(
            throughput=throughput,
            job_seconds=job_seconds,
            min_replicas=floor,
            max_replicas=max_replicas,
            pod_startup_seconds=pod_startup,
            scaler=scaler.value,
        )
        result = simulate(make_curve(name, base_rate), cfg)
        show(result, as_json)
        results.append(result)
    if png is not None:
        plot(results, png)
        if not as_json:
            typer.echo(f"plot: {png}")


@app.command("choose")
def choose_cmd(
    base_rate: Annotated[float, typer.Option(help="Base arrivals, jobs/s (burst: 10x).")] = 2.0,
    max_replicas: Annotated[int, typer.Option(help="Most pods.")] = 40,
    top: Annotated[int, typer.Option(help="Rows to print.")] = 10,
) -> None:
    """Grid-search HPA scale-up behavior on a 10x burst; print the best and the spec default."""
    arrivals = burst_curve(base_rate, 10, at=600, length=300)
    base = spec_config(max_replicas=max_replicas)
    best, runs = choose(arrivals, base)
    ranked = sorted(
        runs,
        key=lambda c: (
            not c.meets_goal,
            round(c.result.replica_minutes, 1),
            c.result.p95_wait_seconds,
        ),
    )
    typer.echo(
        "goal: drain <= 2 x (HPA sync + up-stabilization + pod start-up), fewest pod-minutes"
    )
    typer.echo("upStab upPods upPct  window  drain  p95wait  pod-min  goal")
    for cand in ranked[:top]:
        b, r = cand.config.behavior, cand.result
        typer.echo(
            f"{b.up_stabilization_seconds:>6} {b.up_pods:>6} {b.up_percent:>5} "
            f"{cand.config.scale_up_window:>7} {r.drain_seconds!s:>6} {r.p95_wait_seconds:>8.1f} "
            f"{r.replica_minutes:>8.1f}  {'yes' if cand.meets_goal else 'no'}"
        )
    if best is None:
        typer.echo("no candidate meets the goal")
        raise typer.Exit(1)
    b = best.config.behavior
    typer.echo(
        f"chosen: scaleUpStabilizationSeconds={b.up_stabilization_seconds} "
        f"scaleUpPods={b.up_pods} scaleUpPercent={b.up_percent}"
    )
    spec = base.behavior
    typer.echo(
        f"spec default: scaleUpStabilizationSeconds={spec.up_stabilization_seconds} "
        f"scaleUpPods={spec.up_pods} scaleUpPercent={spec.up_percent}"
    )


@app.command("signal")
def signal_cmd(
    queue: Annotated[str, typer.Option(help="Queue name (from the spec).")],
    stack: Annotated[str | None, typer.Option(help="Spec from Pulumi.<stack>.yaml.")] = None,
    spec_file: Annotated[
        Path | None, typer.Option(help="Spec (chart values JSON); default: the runtime setting.")
    ] = None,
) -> None:
    """Read one queue's scaling signal (the endpoint's JSON) from Redis.

    Connection from BULLMQ_PLATFORM_REDIS_* and the secrets directory, as the
    scheduler and workers connect.
    """
    if stack is not None:
        spec = load_stack(stack).spec
    elif spec_file is not None:
        spec = PlatformSpec.model_validate_json(spec_file.read_text())
    else:
        spec = RuntimeSettings().load_spec()

    async def read() -> tuple[int, dict[str, Any]]:
        client = connect(RedisSettings().redis_kwargs(), decode_responses=True)
        try:
            return await scaling_response(client, spec, queue)
        finally:
            await client.aclose()

    status, body = asyncio.run(read())
    typer.echo(json.dumps(body, indent=2))
    if status != 200:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
