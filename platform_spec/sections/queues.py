"""A queue of the catalog and its parts: backoff, retention, DLQ, tenancy, autoscaling."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from platform_spec.base import SpecModel
from platform_spec.keys import DLQ_QUEUE_SUFFIX, partition_queues
from platform_spec.pod_facts import GRACE_MARGIN_SECONDS
from platform_spec.sections.common import (
    DEFAULT_EVENT_LOOP,
    DNS_LABEL,
    MAX_PRIORITY,
    PRIORITY_LEVELS,
    QUEUE_NAME_MAX,
    EventLoop,
    ImportPath,
    LogLevel,
    Resources,
    duplicates,
)

# Most partitions of one queue: each is a fetch loop in every worker process of the queue
# (and KEDA's redis scaler mode reads 3-4 keys per partition).
MAX_PARTITIONS = 64


class Backoff(SpecModel):
    """Delay between attempts of a failed job."""

    type: Literal["fixed", "exponential"] = Field(
        "exponential", description="`exponential`: delay * 2^(attempt-1); `fixed`: delay."
    )
    delay_ms: int = Field(1000, ge=0, description="Base delay in milliseconds.")
    jitter: float = Field(
        0.0, ge=0.0, le=1.0, description="Random fraction (0-1) taken off each delay."
    )


class Retention(SpecModel):
    """How long finished jobs are kept (BullMQ removeOnComplete / removeOnFail)."""

    age_seconds: int | None = Field(None, ge=1, description="Keep jobs up to this age.")
    count: int | None = Field(None, ge=0, description="Keep at most this many jobs.")


class RateLimit(SpecModel):
    """The queue's global rate limit (shared by all of its workers)."""

    max: int = Field(ge=1, description="Jobs allowed per duration, across all workers.")
    duration_ms: int = Field(ge=1, description="Window in milliseconds.")


class DeadLetter(SpecModel):
    """Where jobs go after their last attempt."""

    enabled: bool = Field(
        True, description="Move finally-failed jobs to `<queue>-dlq` with their error."
    )
    retention_seconds: int = Field(
        14 * 86400, ge=60, description="Age after which DLQ entries are deleted by retention."
    )
    max_entries: int = Field(
        1000,
        ge=1,
        description="Most DLQ entries kept; the oldest are deleted past it (a failure storm "
        "cannot fill Redis). Each holds a copy of the payload: counted against "
        "redis.maxmemory with typicalPayloadBytes (docs/memory.md).",
    )


class Tenancy(SpecModel):
    """Tenant isolation for queues shared by tenants."""

    required: bool = Field(
        False, description="Every job must carry `tenantId`; jobs without it are dead-lettered."
    )
    max_active_per_tenant: int | None = Field(
        None, ge=1, description="At most this many active jobs per tenant per worker."
    )


class Autoscaling(SpecModel):
    """KEDA scaling of one queue's workers on its real backlog."""

    min_replicas: int = Field(
        1,
        ge=0,
        description="Fewest worker pods. 0 is allowed only with wakeOnDelayed, since only a "
        "running worker promotes delayed jobs (retries with backoff, schedules).",
    )
    max_replicas: int = Field(10, ge=1, description="Most worker pods.")
    target_per_replica: int | None = Field(
        None,
        ge=1,
        description="Backlog (waiting + prioritized + active) per pod; null means the "
        "queue's concurrency.",
    )
    polling_interval_seconds: int = Field(15, ge=1, description="How often KEDA reads the backlog.")
    cooldown_seconds: int = Field(
        300, ge=0, description="Idle time before scaling to zero (minReplicas 0 only)."
    )
    scale_down_stabilization_seconds: int = Field(
        300, ge=0, description="HPA scale-down stabilization window."
    )
    fallback_replicas: int | None = Field(
        None,
        ge=1,
        description="Replicas held while the scaler fails; null means minReplicas (at least 1).",
    )
    wake_on_delayed: bool = Field(
        True,
        description="Count due delayed jobs in the scaling signal so a queue at zero wakes "
        "for retries and cron ticks.",
    )
    wake_ahead_seconds: int = Field(
        60,
        ge=0,
        description="metricsApi scaler: a delayed job due within this many seconds wakes a "
        "queue at zero (one pod), so the pod has started when the job is due. Keep it above "
        "pollingIntervalSeconds plus the pod start-up time.",
    )
    latency_target_seconds: int | None = Field(
        None,
        ge=1,
        description="metricsApi scaler, optional: when the oldest waiting job is older than "
        "this, ask for busy pods * age / target (never past the queue's pause, global "
        "concurrency or rate limit). Null: scale on the backlog only.",
    )
    scale_up_stabilization_seconds: int = Field(
        0,
        ge=0,
        description="HPA scale-up stabilization window: the lowest recommendation of the "
        "window wins. 0 reacts at the next HPA sync (15 s).",
    )
    scale_up_percent: int = Field(
        400,
        ge=1,
        description="HPA scale-up policy: add up to this percent of the current pods per "
        "scaleUpPeriodSeconds (the larger of this and scaleUpPods wins). 400, not the HPA's "
        "100: in the simulation (docs/autoscaling.md) only 400 drains a 10x burst within "
        "twice the scale-up window, at no extra pod-minutes.",
    )
    scale_up_pods: int = Field(
        4,
        ge=1,
        description="HPA scale-up policy: add up to this many pods per scaleUpPeriodSeconds.",
    )
    scale_up_period_seconds: int = Field(
        15, ge=1, le=1800, description="Period of both scale-up policies."
    )

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) exceeds maxReplicas ({self.max_replicas})"
            )
        return self


class JobType(SpecModel):
    """One job name a queue accepts, with its payload model."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)] = (
        Field(description="BullMQ job name.")
    )
    payload_model: ImportPath | None = Field(
        None,
        description="`module:Class` of the pydantic payload model; null uses the handler "
        "module's registry.",
    )
    unknown_fields: Literal["ignore", "forbid"] = Field(
        "ignore",
        description="Top-level payload fields the model does not declare (e.g. a Node "
        "producer's `traceId`): `ignore` drops them and logs their names once per process; "
        "`forbid` dead-letters the job with a reason naming them.",
    )


class Queue(SpecModel):
    """One BullMQ queue and the workers that serve it."""

    name: str = Field(
        max_length=QUEUE_NAME_MAX,
        json_schema_extra={"pattern": DNS_LABEL},
        description="Queue name; a DNS-1123 label (it becomes Kubernetes resource names).",
    )
    handler: ImportPath = Field(
        description="Python module that registers this queue's job handlers."
    )
    jobs: list[JobType] = Field(
        default_factory=list, description="Job names the queue accepts (plus the built-in ping)."
    )
    concurrency: int = Field(10, ge=1, le=1000, description="Jobs in flight per worker process.")
    partitions: int = Field(
        1,
        ge=1,
        le=MAX_PARTITIONS,
        description="BullMQ queues this queue is spread over (`<name>-p0` ...; 1: the queue "
        "itself). In Redis Cluster mode each partition has its own hash tag, so a hot queue "
        "uses several shards. Producers pick a partition by key (per-key order kept) or "
        "round-robin (workers/partitions.py); each worker consumes all of them, splitting "
        "`concurrency` between them; counts and autoscaling add them up. "
        "docs/redis-cluster.md, 'Partitioned queues'.",
    )
    attempts: int = Field(
        3, ge=1, description="Tries per job, the first included; after the last, the DLQ."
    )
    backoff: Backoff = Field(default_factory=Backoff, description="Retry delay.")
    default_priority: int = Field(
        PRIORITY_LEVELS["normal"],
        ge=0,
        le=MAX_PRIORITY,
        description="Priority for jobs enqueued without one (1 critical ... 5 background; "
        "0 means none, FIFO).",
    )
    rate_limit: RateLimit | None = Field(
        None, description="Global rate limit of the queue; null for none."
    )
    job_timeout_seconds: int = Field(
        300,
        ge=1,
        description="A job running longer is cancelled and failed. Must stay below the pods' "
        "terminationGracePeriodSeconds so a drain can finish it.",
    )
    termination_grace_period_seconds: int | None = Field(
        None,
        ge=1,
        description=f"Pod grace period on SIGTERM; null means jobTimeoutSeconds + "
        f"{GRACE_MARGIN_SECONDS}.",
    )
    max_payload_bytes: int = Field(
        256 * 1024, ge=1, description="Larger payloads fail at once into the DLQ."
    )
    remove_on_complete: Retention = Field(
        default_factory=lambda: Retention(age_seconds=86400, count=1000),
        description="Completed jobs kept (seed: 24 h, 1000 jobs). count is required.",
    )
    remove_on_fail: Retention = Field(
        default_factory=lambda: Retention(age_seconds=7 * 86400, count=1000),
        description="Failed jobs kept (seed: 7 days; and at most 1000, so a failure storm "
        "cannot fill Redis). count is required.",
    )
    typical_payload_bytes: int = Field(
        1024,
        ge=0,
        description="Usual payload size: the spec checks that the retained completed, failed "
        "and DLQ jobs fit in half of redis.maxmemory at this size (docs/memory.md).",
    )
    dead_letter: DeadLetter = Field(default_factory=DeadLetter, description="Dead-letter queue.")
    tenancy: Tenancy = Field(default_factory=Tenancy, description="Tenant isolation.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="KEDA scaling.")
    resources: Resources = Field(default_factory=Resources, description="Worker resources.")
    log_level: LogLevel = Field(
        "info",
        description="Log level of the queue's workers. `info`: every failure, retry, "
        "dead-lettering, timeout and slow job gets one line with the job id, completed jobs "
        "are summed into one `jobs completed` line per interval; `debug` adds one line per "
        "completed job (on no-op jobs, a third to a half of the worker's CPU); `warning` and "
        "`error` keep only those. The metrics count every outcome at any level.",
    )
    event_loop: EventLoop = Field(
        DEFAULT_EVENT_LOOP,
        description="Event loop of the queue's workers. `uvloop` (libuv, TLS in C): about a "
        "quarter less CPU per job than `asyncio`, the standard library's loop, which stays "
        "available as a fallback. BULLMQ_PLATFORM_EVENT_LOOP overrides it for one pod.",
    )

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not re.fullmatch(DNS_LABEL, value):
            raise ValueError(
                f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
                "starting and ending alphanumeric): it becomes Kubernetes resource names"
            )
        return value

    @property
    def grace_period_seconds(self) -> int:
        """The pod grace period in force: explicit, or the job timeout plus a margin."""
        if self.termination_grace_period_seconds is not None:
            return self.termination_grace_period_seconds
        return self.job_timeout_seconds + GRACE_MARGIN_SECONDS

    @property
    def partition_names(self) -> list[str]:
        """The BullMQ queues that hold this queue's jobs: its partitions, or itself."""
        return partition_queues(self.name, self.partitions)

    def partition_concurrency(self, index: int) -> int:
        """Jobs in flight per worker process on partition `index`: `concurrency` split
        over the partitions, the remainder to the first ones (the sum is `concurrency`)."""
        share, rest = divmod(self.concurrency, self.partitions)
        return share + (1 if index < rest else 0)

    @property
    def dlq_name(self) -> str:
        """The BullMQ queue that receives this queue's finally-failed jobs."""
        return f"{self.name}{DLQ_QUEUE_SUFFIX}"

    @model_validator(mode="after")
    def _timeout_within_grace(self) -> Queue:
        grace = self.termination_grace_period_seconds
        if grace is not None and self.job_timeout_seconds >= grace:
            raise ValueError(
                f"jobTimeoutSeconds ({self.job_timeout_seconds}) must be below "
                f"terminationGracePeriodSeconds ({grace}): a draining pod would be killed "
                "mid-job"
            )
        dupes = duplicates([job.name for job in self.jobs])
        if dupes:
            raise ValueError(f"duplicate job names: {', '.join(dupes)}")
        return self
