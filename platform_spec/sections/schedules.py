"""Repeating jobs (`schedules`) and the scheduler service that registers them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from platform_spec.base import SpecModel
from platform_spec.cron import cron_trigger, zone
from platform_spec.sections.common import (
    Resources,
)


class Schedule(SpecModel):
    """A repeating job, registered as a BullMQ job scheduler."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=63)] = Field(
        description="Schedule id (the BullMQ job scheduler id)."
    )
    timezone: str = Field(
        "UTC",
        description="IANA time zone of the cron. Always explicit: Python BullMQ assumes UTC "
        "and Node BullMQ the process's zone.",
    )
    cron: str | None = Field(
        None, description="Cron pattern, 5 fields or 6 with leading seconds. Or use everyMs."
    )
    every_ms: int | None = Field(
        None, ge=1000, description="Fixed interval in milliseconds instead of a cron."
    )
    queue: str = Field(description="Target queue (must be in queues).")
    job_name: str = Field(description="Job name to enqueue (a job of the target queue).")
    payload: dict[str, Any] = Field(default_factory=dict, description="Job payload.")
    overlap: Literal["skip", "allow"] = Field(
        "skip",
        description="`skip`: a tick whose previous run is still active is recorded as "
        "skipped; `allow`: runs overlap.",
    )
    enabled: bool = Field(True, description="Off removes the schedule from Redis.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            cron_trigger(value, info.data.get("timezone", "UTC"))
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> Schedule:
        if (self.cron is None) == (self.every_ms is None):
            raise ValueError("set exactly one of cron or everyMs")
        return self


class SchedulerService(SpecModel):
    """The always-on service that registers schedules."""

    replicas: int = Field(
        1, ge=0, le=5, description="Scheduler pods; safe above 1 (registration is idempotent)."
    )
    reconcile_interval_seconds: int = Field(
        60, ge=5, description="How often drift (a schedule deleted by hand) is repaired."
    )
    resources: Resources = Field(default_factory=Resources, description="Scheduler resources.")
    rollup_retention_seconds: int = Field(
        30 * 86400,
        ge=3600,
        description="Age after which hourly metric rollups (metrics-aggregate) are deleted by "
        "retention-enforce; also their Redis TTL.",
    )
    events_max_length: int = Field(
        10000,
        ge=100,
        description="retention-enforce trims each queue's BullMQ events stream to about this "
        "many entries (BullMQ's own default is 10000).",
    )
