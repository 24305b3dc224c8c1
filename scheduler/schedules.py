"""The schedules a stack declares, in the shape BullMQ's job schedulers take them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from platform_spec.job_options import job_options
from platform_spec.model import PlatformSpec, Schedule


@dataclass(frozen=True)
class DeclaredSchedule:
    """One spec schedule as a BullMQ job scheduler: id, repeat options, job template."""

    id: str
    queue: str
    job_name: str
    pattern: str | None
    every_ms: int | None
    tz: str
    data: dict[str, Any] = field(default_factory=dict)
    opts: dict[str, Any] = field(default_factory=dict)
    overlap: str = "skip"
    enabled: bool = True

    @property
    def repeat_opts(self) -> dict[str, Any]:
        """BullMQ RepeatOptions: always an explicit `tz`, even for `every`."""
        repeat: dict[str, Any] = {"tz": self.tz}
        if self.pattern is not None:
            repeat["pattern"] = self.pattern
        else:
            repeat["every"] = self.every_ms
        return repeat

    @property
    def fingerprint(self) -> str:
        """Hash of everything an upsert writes: a change means the scheduler must be updated."""
        body = {
            "queue": self.queue,
            "name": self.job_name,
            "repeat": self.repeat_opts,
            "data": self.data,
            "opts": self.opts,
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def owned_field(self) -> str:
        """Field of the ownership hash: job schedulers are per queue."""
        return owned_field(self.queue, self.id)

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether BullMQ's stored scheduler still says what we declared (a hand edit does not)."""
        return (
            record.get("name") == self.job_name
            and record.get("pattern") == self.pattern
            and record.get("every") == self.every_ms
            and record.get("tz") == self.tz
            and (record.get("template") or {}).get("data", {}) == self.data
        )


def owned_field(queue: str, schedule_id: str) -> str:
    return f"{queue}/{schedule_id}"


def split_owned_field(value: str) -> tuple[str, str]:
    queue, _, schedule_id = value.partition("/")
    return queue, schedule_id


def declare(schedule: Schedule, spec: PlatformSpec) -> DeclaredSchedule:
    return DeclaredSchedule(
        id=schedule.name,
        # A partitioned queue's schedules tick into its partition 0.
        queue=spec.schedule_queue(schedule.queue),
        job_name=schedule.job_name,
        pattern=schedule.cron,
        every_ms=schedule.every_ms,
        tz=schedule.timezone,
        data=dict(schedule.payload),
        # Ticks carry the target queue's options, as any producer of it sets them.
        opts=job_options(spec.queue(schedule.queue)),
        overlap=schedule.overlap,
        enabled=schedule.enabled,
    )


def declared_schedules(spec: PlatformSpec) -> list[DeclaredSchedule]:
    """Every schedule of the spec, enabled or not, in spec order."""
    return [declare(schedule, spec) for schedule in spec.schedules]


def stack_owner(spec: PlatformSpec) -> str:
    """Who owns the schedules this stack registers: two stacks may share one Redis and prefix."""
    return spec.fullname_override or spec.namespace
