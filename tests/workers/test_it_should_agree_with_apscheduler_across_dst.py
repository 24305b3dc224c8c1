"""Europe/Berlin across the next daylight-saving changes: BullMQ's ticks = APScheduler's.

The chain is walked the way a worker walks it (bullmq's updateJobScheduler,
each tick producing the next) on the real Redis, with `startDate` placed before
each transition. Pins the croniter DST bugs of bullmq 3.4.4's default cron
strategy (see workers/cron.py); the last test shows the bug is still there,
so when it fails after a bullmq upgrade the workaround may go.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bullmq import Queue
from bullmq.job_scheduler import JobScheduler

from local_stack.redis_server import RedisServer
from platform_spec.cron import next_fires, trigger_fires
from workers.cron import patch_bullmq_cron

pytestmark = [pytest.mark.redis]
BERLIN = ZoneInfo("Europe/Berlin")
PATTERNS = ("0 * * * *", "*/30 * * * *", "0 2 * * *", "30 2 * * *", "0 3 * * *", "15 1 * * *")


def next_transitions(count: int = 2) -> list[datetime]:
    """The next `count` UTC hours at which Berlin's UTC offset changes."""
    out: list[datetime] = []
    t = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    while len(out) < count:
        if (t + timedelta(hours=1)).astimezone(BERLIN).utcoffset() != t.astimezone(
            BERLIN
        ).utcoffset():
            out.append(t + timedelta(hours=1))
        t += timedelta(hours=1)
    return out


async def bullmq_chain(
    queue: Queue, sid: str, pattern: str, start: datetime, end: datetime
) -> list[datetime]:
    start_ms = int(start.timestamp() * 1000)
    job = await queue.upsertJobScheduler(
        sid, {"pattern": pattern, "tz": "Europe/Berlin", "startDate": start_ms}, "tick"
    )
    fires = []
    while job is not None:
        millis = int(str(job.id).rsplit(":", 1)[1])
        fire = datetime.fromtimestamp(millis / 1000, tz=UTC)
        if fire > end:
            break
        fires.append(fire)
        stored = await queue.getJob(str(job.id))
        job = await JobScheduler(queue).upsertJobScheduler(
            sid,
            stored.opts.get("repeat"),
            stored.name,
            stored.data,
            stored.opts,
            override=False,
            producer_id=stored.id,
        )
    await queue.removeJobScheduler(sid)
    return fires


@pytest.mark.parametrize("pattern", PATTERNS)
def test_it_should_agree_with_apscheduler_across_dst(
    redis_server: RedisServer, queue_name: str, pattern: str
) -> None:
    patch_bullmq_cron()

    async def scenario() -> None:
        queue = Queue(queue_name, {"connection": redis_server.connection_kwargs("scheduler")})
        try:
            for i, change in enumerate(next_transitions()):
                start, end = change - timedelta(hours=30), change + timedelta(hours=30)
                expected = [f for f in next_fires(pattern, "Europe/Berlin", start, 200) if f <= end]
                got = await bullmq_chain(queue, f"dst-{i}", pattern, start, end)
                assert got == [f.astimezone(UTC) for f in expected], (pattern, change)
                # and APScheduler's own computation (the spec's) up to the dropped repeat
                raw = [f for f in trigger_fires(pattern, "Europe/Berlin", start, 200) if f <= end]
                assert set(got) <= {f.astimezone(UTC) for f in raw}
                assert len(raw) - len(got) <= 1
                # no double and no missing run
                assert len(got) == len(set(got))
                if pattern.split()[1] == "*":  # hourly-ish: every real hour, once
                    step = 3600 if pattern.startswith("0 ") else 1800
                    assert all((b - a).total_seconds() == step for a, b in itertools.pairwise(got))
                else:  # daily: one run per local calendar day
                    days = [f.astimezone(BERLIN).date() for f in got]
                    assert len(days) == len(set(days))
                    assert (days[-1] - days[0]).days == len(days) - 1, (pattern, got)
        finally:
            await queue.close()

    asyncio.run(scenario())


def test_it_should_still_need_the_cron_workaround() -> None:
    """bullmq 3.4.4 + croniter 2.0.7 skip Berlin's autumn 02:00 daily run (our patch fixes it)."""
    from workers.cron import BULLMQ_DEFAULT_STRATEGY as croniter_strategy
    from workers.cron import apscheduler_repeat_strategy

    before = int(datetime(2025, 10, 26, 0, 30, tzinfo=UTC).timestamp() * 1000)
    opts = {"pattern": "0 2 * * *", "tz": "Europe/Berlin"}
    ours = apscheduler_repeat_strategy(before, opts)
    theirs = croniter_strategy(before, opts)
    # after the first 02:00 of that night: next is 27 Oct 02:00 CET; croniter says 03:00 CET
    assert ours == int(datetime(2025, 10, 27, 1, tzinfo=UTC).timestamp() * 1000)
    assert theirs != ours, "bullmq's own cron strategy is fixed: workers/cron.py may go"
