"""The chart's ScheduleMissed alert compares two scheduler metrics; both are exported."""

from __future__ import annotations

from datetime import UTC, datetime

from platform_spec.model import PlatformSpec
from scheduler.metrics import ServiceState, build_registry, render, schedule_intervals


def test_it_should_compute_each_schedules_interval() -> None:
    spec = PlatformSpec()
    intervals = schedule_intervals(spec, datetime(2026, 11, 25, 9, 1, tzinfo=UTC))
    assert intervals == {
        "daily-cleanup": 86400.0,
        "health-check": 300.0,
        "metrics-aggregate": 3600.0,
        "retention-enforce": 86400.0,
    }


def test_it_should_render_interval_and_seconds_since_success() -> None:
    spec = PlatformSpec()
    state = ServiceState(
        schedules={s.name: s.queue for s in spec.schedules},
        intervals=schedule_intervals(spec),
        last_success={"health-check": 1.0},
    )
    text = render(build_registry(state)).decode()
    assert (
        'bullmq_schedule_interval_seconds{queue="scheduled-jobs",schedule="health-check"} 300.0'
        in text
    )
    assert (
        'bullmq_schedule_seconds_since_last_success{queue="scheduled-jobs",schedule="health-check"}'
        in text
    )
