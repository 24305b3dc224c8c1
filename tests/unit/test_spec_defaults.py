"""The defaults reproduce the seeds, and derived values follow their rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from platform_spec.cron import next_fires
from platform_spec.keys import QueueKeys
from platform_spec.model import PRIORITY_LEVELS, PlatformSpec, Queue


def test_it_should_default_to_the_seed_catalog() -> None:
    spec = PlatformSpec()
    assert [q.name for q in spec.queues] == [
        "agent-execution",
        "workflow-orchestration",
        "background-tasks",
        "scheduled-jobs",
        "notifications",
    ]
    assert PRIORITY_LEVELS == {"critical": 1, "high": 2, "normal": 3, "low": 4, "background": 5}
    for queue in spec.queues:
        assert queue.backoff.type == "exponential" and queue.backoff.delay_ms == 1000
        assert (
            queue.remove_on_complete.age_seconds == 86400 and queue.remove_on_complete.count == 1000
        )
        assert queue.remove_on_fail.age_seconds == 7 * 86400
    assert spec.queue("notifications").attempts == 5
    assert spec.queue("agent-execution").attempts == 3


def test_it_should_default_to_the_seed_schedules_in_utc() -> None:
    schedules = {s.name: (s.cron, s.timezone, s.queue) for s in PlatformSpec().schedules}
    assert schedules == {
        "daily-cleanup": ("0 2 * * *", "UTC", "scheduled-jobs"),
        "health-check": ("*/5 * * * *", "UTC", "scheduled-jobs"),
        "metrics-aggregate": ("0 * * * *", "UTC", "scheduled-jobs"),
        "retention-enforce": ("0 3 * * *", "UTC", "scheduled-jobs"),
    }


def test_it_should_default_to_secure_redis() -> None:
    redis = PlatformSpec().redis
    assert redis.tls.enabled and redis.auth.enabled and redis.persistence.enabled
    assert redis.maxmemory_policy == "noeviction"
    assert "bitnami" not in redis.image.repository


def test_it_should_derive_the_grace_period_from_the_timeout() -> None:
    queue = Queue(name="q", handler="m", job_timeout_seconds=100)
    assert queue.grace_period_seconds == 130
    assert (
        Queue(name="q", handler="m", termination_grace_period_seconds=500).grace_period_seconds
        == 500
    )


def test_it_should_name_bullmq_keys_in_one_place() -> None:
    keys = QueueKeys("bull", "email")
    assert (keys.wait, keys.prioritized, keys.active, keys.meta) == (
        "bull:email:wait",
        "bull:email:prioritized",
        "bull:email:active",
        "bull:email:meta",
    )
    with pytest.raises(KeyError):
        keys.key("waiting")


@pytest.mark.parametrize(
    ("cron", "tz", "after", "expected"),
    [
        (
            "0 2 * * *",
            "UTC",
            datetime(2026, 1, 1, 3, tzinfo=UTC),
            [datetime(2026, 1, 2, 2, tzinfo=UTC)],
        ),
        (
            "*/5 * * * *",
            "UTC",
            datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
            [datetime(2026, 1, 1, 0, 5, tzinfo=UTC)],
        ),
        # crontab weekday 1 is Monday (APScheduler 3 alone would read it as Tuesday).
        (
            "0 9 * * 1",
            "UTC",
            datetime(2026, 11, 25, tzinfo=UTC),
            [datetime(2026, 11, 30, 9, tzinfo=UTC)],
        ),
        (
            "0 9 * * 0",
            "UTC",
            datetime(2026, 11, 25, tzinfo=UTC),
            [datetime(2026, 11, 29, 9, tzinfo=UTC)],
        ),
        (
            "0 2 * * *",
            "Europe/Berlin",
            datetime(2026, 7, 1, tzinfo=UTC),
            [datetime(2026, 7, 2, 0, tzinfo=UTC)],
        ),
        # Autumn DST in Berlin: 02:00 happens twice on 25 Oct 2026; cron runs it once.
        (
            "0 2 * * *",
            "Europe/Berlin",
            datetime(2026, 10, 24, 12, tzinfo=UTC),
            [datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 26, 1, tzinfo=UTC)],
        ),
        (
            "*/2 * * * * *",
            "UTC",
            datetime(2026, 1, 1, tzinfo=UTC),
            [datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)],
        ),
    ],
)
def test_it_should_compute_next_fires_like_crontab(
    cron: str, tz: str, after: datetime, expected: list[datetime]
) -> None:
    # Compared in UTC: PEP 495 makes an ambiguous local time unequal to every other zone.
    got = [fire.astimezone(UTC) for fire in next_fires(cron, tz, after, len(expected))]
    assert got == expected
