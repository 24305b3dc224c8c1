"""Cron expressions and time zones, checked the way the scheduler will use them.

BullMQ accepts 5-field crons and 6-field crons with a leading seconds field.
APScheduler 3's CronTrigger validates both (and the IANA zone) and computes the
expected next fire times the scheduler compares BullMQ's against.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

_FIELDS_5 = ("minute", "hour", "day", "month", "day_of_week")
_FIELDS_6 = ("second", *_FIELDS_5)
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A CronTrigger for a 5- or 6-field cron in `timezone`; ValueError if invalid."""
    tz = zone(timezone)
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise ValueError(
            f"cron {expression!r} has {len(parts)} fields; expected 5 "
            "(minute hour day month weekday) or 6 (with leading seconds)"
        )
    names = _FIELDS_5 if len(parts) == 5 else _FIELDS_6
    fields = dict(zip(names, parts, strict=True))
    # crontab numbers weekdays from Sunday (0 or 7); APScheduler 3 from Monday.
    # Names mean the same to both, so numbers are rewritten as names.
    fields["day_of_week"] = re.sub(
        r"(?<![/\d])\d+", lambda m: _WEEKDAYS[int(m.group()) % 7], fields["day_of_week"]
    )
    try:
        return CronTrigger(timezone=tz, **fields)
    except ValueError as exc:
        raise ValueError(f"invalid cron {expression!r}: {exc}") from exc


def trigger_fires(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """APScheduler's raw next `count` fires strictly after `after` (aware datetimes)."""
    trigger = cron_trigger(expression, timezone)
    fires: list[datetime] = []
    previous: datetime | None = None
    now = after
    while len(fires) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        if fire > after:
            fires.append(fire)
        previous = fire
        now = fire
    return fires


def _fixed_hour(expression: str) -> bool:
    fields = expression.split()
    return "*" not in (fields[1] if len(fields) == 5 else fields[2])


def _repeated_wall_time(fire: datetime, timezone: str) -> bool:
    """Whether `fire` is the second occurrence of its wall-clock time (autumn's repeated hour)."""
    tz = zone(timezone)
    first = fire.astimezone(tz).replace(tzinfo=None).replace(tzinfo=tz, fold=0)
    return first.timestamp() != fire.timestamp()


def next_fires(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` fires strictly after `after`, as cron runs them.

    APScheduler's fires, minus the second run of a fixed-hour cron in autumn's
    repeated hour: cron runs `0 2 * * *` once, at the first 02:00, while an
    hourly `0 * * * *` runs every real hour. APScheduler 3 alone would run the
    fixed-hour one twice that night.
    """
    fixed = _fixed_hour(expression)
    out: list[datetime] = []
    cursor = after
    while len(out) < count:
        batch = trigger_fires(expression, timezone, cursor, count - len(out))
        if not batch:
            break
        out += [f for f in batch if not (fixed and _repeated_wall_time(f, timezone))]
        cursor = batch[-1]
    return out
