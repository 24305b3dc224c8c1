"""Cron next-fire computation for BullMQ, done by APScheduler instead of croniter.

Python bullmq 3.4.4 computes a cron scheduler's next fire with croniter 2.0.7,
which is wrong across daylight-saving changes (checked here for Europe/Berlin,
see tests/workers/test_it_should_agree_with_apscheduler_across_dst.py): in
autumn it skips a daily `0 2 * * *` run and fires the next one an hour late,
skips one run of an hourly cron in the repeated hour; in spring a daily
`15 1 * * *` fires at 00:15 the next day. The spec validates crons with
APScheduler 3's CronTrigger (platform_spec.cron), so the same trigger also
computes BullMQ's next fire: one computation, no disagreement. One rule is
added on top (platform_spec.cron.next_fires): a fixed-hour cron runs once in
autumn's repeated hour, as cron does; APScheduler alone would run `0 2 * * *`
twice that night.

Every process that creates a scheduler's next job must use it: the scheduler
service (upserts) and every worker (a worker materializes the next iteration
when it fetches the current one). Call `patch_bullmq_cron()` once at start-up,
before creating any bullmq Queue or Worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import bullmq.job_scheduler as bullmq_job_scheduler

from platform_spec.cron import next_fires


def _millis(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)


def next_fire_millis(pattern: str, tz: str, after_millis: int) -> int | None:
    """Epoch millis of the first fire of `pattern` in `tz` strictly after `after_millis`."""
    after = datetime.fromtimestamp(after_millis / 1000, tz=UTC)
    fires = next_fires(pattern, tz, after, 1)
    return int(fires[0].timestamp() * 1000) if fires else None


def apscheduler_repeat_strategy(millis: int, opts: Mapping[str, Any]) -> int | None:
    """Drop-in for bullmq's `default_repeat_strategy` (same arguments, same options)."""
    pattern = opts.get("pattern")
    if not pattern:
        return None
    if opts.get("immediately"):
        return int(datetime.now(UTC).timestamp() * 1000)
    base = millis
    start = _millis(opts.get("startDate"))
    if start is not None and start > base:
        base = start
    # A cron without tz would be UTC here and local time in Node: the spec
    # always sets one; UTC is only the fallback for foreign schedulers.
    return next_fire_millis(str(pattern), str(opts.get("tz") or "UTC"), base)


# bullmq's own (croniter) strategy, kept for the test that shows it is still wrong.
BULLMQ_DEFAULT_STRATEGY = bullmq_job_scheduler.default_repeat_strategy


def patch_bullmq_cron() -> None:
    """Make every bullmq JobScheduler created from now on use APScheduler (idempotent)."""
    bullmq_job_scheduler.default_repeat_strategy = apscheduler_repeat_strategy
