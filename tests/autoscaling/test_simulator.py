"""The autoscaling simulator and the KEDA/HPA arithmetic, on cases worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoscaling.__main__ import app, spec_config
from autoscaling.hpa import Behavior, hpa_recommendation, keda_hpa_replicas
from autoscaling.simulate import (
    Arrivals,
    SimConfig,
    burst_curve,
    choose,
    simulate,
    trickle_curve,
)

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("metric", "target", "current", "expected"),
    [
        (10.5, 1, 10, 10),  # ratio 1.05: inside the 10 % tolerance, keep
        (10.9, 1, 10, 10),  # ratio 1.09: inside
        (11.0, 1, 10, 11),  # 1.1 - 1.0 is 0.1000...09 in float64, as in the HPA's Go code
        (11.5, 1, 10, 12),  # ratio 1.15: ceil(11.5)
        (9.0, 1, 10, 10),  # ratio 0.90: inside
        (8.5, 1, 10, 9),
        (45, 10, 2, 5),  # AverageValue: ceil(45 / 10)
    ],
)
def test_it_should_apply_the_hpa_formula_with_its_tolerance(
    metric: float, target: float, current: int, expected: int
) -> None:
    assert hpa_recommendation(metric, target, current) == expected


def test_it_should_activate_clamp_and_scale_to_zero_like_keda() -> None:
    kw = {"target": 1, "min_replicas": 0, "max_replicas": 10}
    assert keda_hpa_replicas(0, current=0, **kw) == 0  # inactive stays at zero
    assert keda_hpa_replicas(3, current=0, **kw) == 3  # activated to 1, then the HPA
    assert keda_hpa_replicas(0, current=4, **kw) == 0  # inactive after the cooldown
    assert keda_hpa_replicas(0, current=4, **{**kw, "min_replicas": 2}) == 2
    assert keda_hpa_replicas(50, current=4, **kw) == 10  # maxReplicaCount
    assert Behavior().up_limit(5) == 10 and Behavior().up_limit(1) == 5  # k8s: 100 % or 4 pods
    chosen = Behavior(up_percent=400)
    assert chosen.up_limit(5) == 25 and chosen.up_limit(1) == 5


def test_it_should_leave_a_pool_with_spare_capacity_without_backlog() -> None:
    steady = Arrivals("steady", 600, lambda t: 1.0)
    result = simulate(steady, SimConfig(min_replicas=2, max_replicas=2))
    assert result.peak_backlog == 0
    assert result.p95_wait_seconds == 0
    assert result.replica_minutes == 20  # 2 pods x 10 minutes
    assert result.max_replicas_seen == 2


def test_it_should_drain_an_impulse_one_batch_of_slots_per_job_time() -> None:
    """100 jobs at t=0, one pod of 10 slots, 10 s jobs: batches start at 0, 10, ..., 90 s."""
    impulse = Arrivals("impulse", 200, lambda t: 100.0 if t == 0 else 0.0, burst=(0, 1))
    result = simulate(impulse, SimConfig(min_replicas=1, max_replicas=1))
    assert result.peak_backlog == 90
    assert result.backlog[45] == 50  # batches at 0, 10, 20, 30, 40 have started
    assert result.drain_seconds == 90
    assert result.p95_wait_seconds == pytest.approx(90, abs=1)  # job 95 is in the last batch


def test_it_should_scale_up_as_the_hpa_policies_allow() -> None:
    """400 jobs at once, 10 slots per pod, 10 s jobs, pods serve 20 s after they are made.

    t=0: wants 40, 400 % or 4 pods allows 5. t=15: still 390 jobs of work, allows 25.
    t=30: 5 pods have served since 20 s: 400 - 10 - 10 - 50 = 330 jobs left -> 33 pods.
    """
    impulse = Arrivals("impulse", 120, lambda t: 400.0 if t == 0 else 0.0)
    cfg = SimConfig(
        min_replicas=1, max_replicas=40, pod_startup_seconds=20, behavior=Behavior(up_percent=400)
    )
    result = simulate(impulse, cfg)
    assert [result.replicas[t] for t in (0, 14, 15, 29, 30)] == [5, 5, 25, 25, 33]
    assert [result.ready[t] for t in (19, 20, 35, 50)] == [1, 5, 25, 33]


def test_it_should_wake_from_zero_and_cool_down_to_zero() -> None:
    """3 jobs at t=0: KEDA wakes 1 pod (ready at 20 s), last active at the 15 s poll, 0 at 315."""
    once = trickle_curve(3, every=10_000, seconds=1000)
    cfg = SimConfig(min_replicas=0, polling_interval_seconds=15, cooldown_seconds=300)
    result = simulate(once, cfg)
    assert result.replicas[0] == 1 and result.ready[19] == 0 and result.ready[20] == 1
    assert result.replicas[314] == 1 and result.replicas[315] == 0
    assert result.replica_minutes == 315 / 60
    assert result.p95_wait_seconds == pytest.approx(20)


def test_it_should_choose_the_spec_defaults_for_a_10x_burst() -> None:
    """The spec's scale-up defaults are the cheapest ones that drain a 10x burst in 2 windows."""
    base = spec_config(max_replicas=40)
    best, runs = choose(burst_curve(2.0, 10, at=600, length=300), base)
    assert best is not None
    assert best.config.behavior == base.behavior
    default = next(c for c in runs if c.config.behavior == base.behavior)
    assert default.result.drain_seconds is not None
    assert default.result.drain_seconds <= 2 * base.scale_up_window
    hpa_default = next(
        c
        for c in runs
        if (c.config.behavior.up_percent, c.config.behavior.up_pods) == (100, 4)
        and c.config.behavior.up_stabilization_seconds == 0
    )
    assert not hpa_default.meets_goal  # Kubernetes' own default is too slow for the goal


def test_it_should_print_figures_and_write_a_png(tmp_path: Path) -> None:
    png = tmp_path / "plot.png"
    result = CliRunner().invoke(
        app, ["simulate", "--curve", "burst", "--curve", "trickle", "--png", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "p95 wait" in result.output and "pod-min" in result.output
    assert png.read_bytes().startswith(b"\x89PNG")


def test_it_should_have_help_on_every_command() -> None:
    runner = CliRunner()
    for args in (["--help"], ["simulate", "--help"], ["choose", "--help"], ["signal", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output
