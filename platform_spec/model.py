"""The typed deployment spec: the single source of truth.

One `PlatformSpec` describes a deployment. The Pulumi program reads it from
stack config, the chart's `values.yaml` and `values.schema.json` are generated
from it, and the workers and scheduler read it (rendered into a ConfigMap) at
run time. Every default is written here and nowhere else.

Field descriptions are operational: what breaks if a value is wrong, and which
other value it must agree with. They flow into the chart's schema, the
`## @param` lines of values.yaml and the README's values table.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from platform_spec.base import DNS_LABEL, DnsLabel, SpecModel
from platform_spec.cron import cron_trigger, zone
from platform_spec.dashboard import Dashboard
from platform_spec.image import Image
from platform_spec.quantities import REDIS_MEMORY_PATTERN, k8s_memory_bytes, redis_memory_bytes
from platform_spec.resources import MemoryQuantity, Resources

# A queue name becomes part of resource names (`<release>-worker-<queue>`), so
# it must be a DNS-1123 label, short enough to leave room for the prefix.
QUEUE_NAME_MAX = 40
ImportPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?$")]

# Seed 000's priority levels (lower runs first). BullMQ accepts 0..2^21.
PRIORITY_LEVELS = {"critical": 1, "high": 2, "normal": 3, "low": 4, "background": 5}
MAX_PRIORITY = 2**21

# Maxmemory policies that evict keys: BullMQ loses jobs silently under them.
EVICTING_POLICIES = (
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)
# Error type of the whole-spec validator, whose message carries field paths.
CATALOG_ERROR = "spec_catalog"
# Extra seconds a worker pod gets after its longest job may time out.
GRACE_MARGIN_SECONDS = 30


class RedisImage(SpecModel):
    """The Redis server image. Official `redis` or `valkey/valkey`; never Bitnami."""

    repository: str = Field(
        "redis",
        description="`redis` (official) or `valkey/valkey`. Bitnami images left the public "
        "registry in 2025 and are refused.",
    )
    tag: str = Field("7.4.2", description="Server version tag (Redis 7.x / Valkey 7.2+ / 8.x).")
    digest: str | None = Field(
        None, pattern=r"^sha256:[0-9a-f]{64}$", description="Optional digest pin."
    )

    @field_validator("repository")
    @classmethod
    def _not_bitnami(cls, value: str) -> str:
        if "bitnami" in value:
            raise ValueError(
                "Bitnami images left the public registry (bitnami/charts#35164); "
                "use `redis` or `valkey/valkey`"
            )
        return value


class RdbRule(SpecModel):
    """One RDB `save` rule: snapshot after `seconds` if at least `changes` keys changed."""

    seconds: int = Field(ge=1, description="Seconds since the last snapshot.")
    changes: int = Field(ge=1, description="Minimum number of changed keys.")


class Persistence(SpecModel):
    """Disk for AOF and RDB files."""

    enabled: bool = Field(
        True,
        description="Keep data on a PersistentVolumeClaim. Off loses every job on a pod "
        "restart; allowed only in dev.",
    )
    size: MemoryQuantity = Field(
        "8Gi", description="PVC size. Keep well above maxmemory: AOF rewrites need 2x."
    )
    storage_class: str | None = Field(
        None, description="StorageClass of the PVC; null uses the cluster default."
    )
    appendfsync: Literal["everysec", "always"] = Field(
        "everysec",
        description="AOF fsync policy. `everysec` may lose about one second of acknowledged "
        "enqueues on a crash; `always` loses none at a throughput cost.",
    )
    rdb_snapshots: list[RdbRule] = Field(
        default_factory=lambda: [
            RdbRule(seconds=3600, changes=1),
            RdbRule(seconds=300, changes=100),
            RdbRule(seconds=60, changes=10000),
        ],
        description="RDB `save` rules, in addition to AOF (faster restarts, backups).",
    )


class Tls(SpecModel):
    """Where Redis's server certificate comes from."""

    enabled: bool = Field(
        True, description="TLS-only Redis (`port 0`). Off is allowed only in dev."
    )
    source: Literal["generated", "existingSecret", "certManager"] = Field(
        "generated",
        description="`generated`: the Pulumi program creates a CA and server cert; "
        "`existingSecret`: a kubernetes.io/tls Secret with ca.crt you provide; "
        "`certManager`: the chart creates a cert-manager Certificate.",
    )
    existing_secret: str | None = Field(
        None,
        description="Name of the Secret with tls.crt, tls.key and ca.crt. Required for "
        "`existingSecret`; Pulumi fills it for `generated`; GitOps users name theirs.",
    )
    cert_manager_issuer: str | None = Field(
        None, description="cert-manager issuer name (source `certManager`)."
    )
    cert_manager_issuer_kind: Literal["Issuer", "ClusterIssuer"] = Field(
        "Issuer", description="Kind of the cert-manager issuer."
    )
    auth_clients: Literal["no", "optional", "yes"] = Field(
        "no",
        description="Redis `tls-auth-clients`: `yes` requires client certificates (mutual TLS).",
    )

    @model_validator(mode="after")
    def _source_needs(self) -> Tls:
        if self.source == "existingSecret" and not self.existing_secret:
            raise ValueError("existingSecret is required when source is existingSecret")
        if self.source == "certManager" and not self.cert_manager_issuer:
            raise ValueError("certManagerIssuer is required when source is certManager")
        return self


class PasswordKeys(SpecModel):
    """Keys of the auth Secret, one password per Redis ACL user."""

    worker: str = Field("worker-password", description="Key of the worker user's password.")
    scheduler: str = Field(
        "scheduler-password", description="Key of the scheduler user's password."
    )
    keda: str = Field("keda-password", description="Key of the read-only KEDA user's password.")
    exporter: str = Field(
        "exporter-password", description="Key of the redis_exporter user's password."
    )
    admin: str = Field("admin-password", description="Key of the admin user's password.")
    dashboard: str = Field(
        "dashboard-password",
        description="Key of the dashboard user's password (dashboard.enabled).",
    )
    scaling_token: str = Field(
        "scaling-token",
        description="Key of the bearer token KEDA presents to the scheduler's scaling endpoint "
        "(keda.scaler metricsApi). Not a Redis user: Pulumi generates it with the passwords.",
    )


class Auth(SpecModel):
    """Redis ACL users and where their passwords come from."""

    enabled: bool = Field(
        True, description="Require passwords (ACL users, `default` off). Off only in dev."
    )
    source: Literal["generated", "existingSecret"] = Field(
        "generated",
        description="`generated`: Pulumi creates random passwords in a Secret; "
        "`existingSecret`: you provide the Secret.",
    )
    existing_secret: str | None = Field(
        None,
        description="Name of the Secret holding one password per user (see passwordKeys). "
        "Required for `existingSecret`; Pulumi fills it for `generated`.",
    )
    password_keys: PasswordKeys = Field(
        default_factory=PasswordKeys, description="Secret keys of each user's password."
    )
    admin_enabled: bool = Field(
        False, description="Create the `admin` ACL user (for people; all commands)."
    )

    @model_validator(mode="after")
    def _source_needs(self) -> Auth:
        if self.source == "existingSecret" and not self.existing_secret:
            raise ValueError("existingSecret is required when source is existingSecret")
        return self


class ExternalRedis(SpecModel):
    """A managed Redis outside the cluster (mode `external`)."""

    host: str | None = Field(None, description="Hostname clients connect to (TLS SNI name).")
    port: int = Field(6379, ge=1, le=65535, description="TLS port of the managed Redis.")
    username: str | None = Field(
        None, description="ACL user the workers and scheduler use; null for the default user."
    )


class Redis(SpecModel):
    """The Redis that holds every queue."""

    mode: Literal["in-cluster", "external"] = Field(
        "in-cluster",
        description="`in-cluster`: the chart runs a TLS Redis StatefulSet; `external`: "
        "connect to a managed Redis (nothing may depend on CONFIG, which they refuse).",
    )
    image: RedisImage = Field(default_factory=RedisImage, description="Redis server image.")
    port: int = Field(6379, ge=1, le=65535, description="TLS port of the in-cluster Redis.")
    resources: Resources = Field(
        default_factory=lambda: Resources(
            cpu_request="250m", memory_request="1Gi", memory_limit="1Gi"
        ),
        description="Redis container resources. memoryLimit must exceed maxmemory.",
    )
    maxmemory: Annotated[str, StringConstraints(pattern=REDIS_MEMORY_PATTERN)] = Field(
        "768mb",
        description="Redis `maxmemory`. With noeviction, writes fail above it (loud) instead "
        "of jobs vanishing (silent). Keep 20-25% below the memory limit for fork/AOF rewrite.",
    )
    maxmemory_policy: str = Field(
        "noeviction",
        json_schema_extra={"enum": ["noeviction"]},
        description="Must be `noeviction`: any evicting policy silently deletes job keys.",
    )
    persistence: Persistence = Field(default_factory=Persistence, description="AOF and RDB.")
    tls: Tls = Field(default_factory=Tls, description="TLS certificates.")
    auth: Auth = Field(default_factory=Auth, description="ACL users and passwords.")
    external: ExternalRedis = Field(
        default_factory=ExternalRedis, description="Managed Redis settings (mode external)."
    )
    pod_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Extra annotations on the Redis pod template; a changed value rolls the "
        "pod. Redis reads its certificate files only at start: the Pulumi program sets "
        "`bullmq-platform/tls-cert-sha256` so a certificate renewal restarts Redis.",
    )

    @field_validator("maxmemory_policy")
    @classmethod
    def _noeviction(cls, value: str) -> str:
        if value != "noeviction":
            kind = "evicts job keys silently" if value in EVICTING_POLICIES else "is not allowed"
            raise ValueError(f"maxmemoryPolicy {value!r} {kind}; BullMQ requires `noeviction`")
        return value

    @model_validator(mode="after")
    def _mode_and_memory(self) -> Redis:
        if self.mode == "external" and not self.external.host:
            raise ValueError("external.host is required when mode is external")
        if self.mode == "in-cluster" and redis_memory_bytes(self.maxmemory) >= k8s_memory_bytes(
            self.resources.memory_limit
        ):
            raise ValueError(
                f"maxmemory {self.maxmemory} must be below resources.memoryLimit "
                f"{self.resources.memory_limit} (fork and AOF rewrite need headroom)"
            )
        return self


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
        description="Pod grace period on SIGTERM; null means jobTimeoutSeconds + 30.",
    )
    max_payload_bytes: int = Field(
        256 * 1024, ge=1, description="Larger payloads fail at once into the DLQ."
    )
    remove_on_complete: Retention = Field(
        default_factory=lambda: Retention(age_seconds=86400, count=1000),
        description="Completed jobs kept (seed: 24 h, 1000 jobs).",
    )
    remove_on_fail: Retention = Field(
        default_factory=lambda: Retention(age_seconds=7 * 86400),
        description="Failed jobs kept (seed: 7 days).",
    )
    dead_letter: DeadLetter = Field(default_factory=DeadLetter, description="Dead-letter queue.")
    tenancy: Tenancy = Field(default_factory=Tenancy, description="Tenant isolation.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="KEDA scaling.")
    resources: Resources = Field(default_factory=Resources, description="Worker resources.")

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
    def dlq_name(self) -> str:
        """The BullMQ queue that receives this queue's finally-failed jobs."""
        return f"{self.name}-dlq"

    @model_validator(mode="after")
    def _timeout_within_grace(self) -> Queue:
        grace = self.termination_grace_period_seconds
        if grace is not None and self.job_timeout_seconds >= grace:
            raise ValueError(
                f"jobTimeoutSeconds ({self.job_timeout_seconds}) must be below "
                f"terminationGracePeriodSeconds ({grace}): a draining pod would be killed "
                "mid-job"
            )
        dupes = _duplicates([job.name for job in self.jobs])
        if dupes:
            raise ValueError(f"duplicate job names: {', '.join(dupes)}")
        return self


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


class Alerts(SpecModel):
    """Default PrometheusRule alerts, each switchable."""

    redis_down: bool = Field(True, description="Alert: Redis unreachable.")
    redis_memory_high: bool = Field(True, description="Alert: memory above 90% of maxmemory.")
    aof_write_errors: bool = Field(True, description="Alert: AOF write failing.")
    pvc_nearly_full: bool = Field(True, description="Alert: Redis PVC above 85%.")
    queue_backlog: bool = Field(True, description="Alert: waiting jobs above waitingThreshold.")
    queue_failed: bool = Field(True, description="Alert: failed jobs above failedThreshold.")
    stuck_active: bool = Field(True, description="Alert: jobs active longer than stuckSeconds.")
    backlog_without_workers: bool = Field(True, description="Alert: backlog with no workers.")
    schedule_missed: bool = Field(True, description="Alert: a schedule missed 2 intervals.")
    waiting_threshold: int = Field(1000, ge=1, description="Waiting jobs that page.")
    failed_threshold: int = Field(100, ge=1, description="Failed jobs that page.")
    stuck_seconds: int = Field(300, ge=1, description="Active job age considered stuck.")
    runbook_base_url: str = Field(
        "https://github.com/example/bullmq-platform/blob/main/README.md",
        description="Base of each alert's runbook_url (a README section anchor is appended).",
    )


class ExporterImage(SpecModel):
    """The redis_exporter image of the metrics sidecar."""

    repository: str = Field(
        "oliver006/redis_exporter", min_length=1, description="Image repository."
    )
    tag: str = Field("v1.67.0", min_length=1, description="Image tag; pin it.")
    digest: str | None = Field(
        None, pattern=r"^sha256:[0-9a-f]{64}$", description="Optional digest; wins over the tag."
    )


class Monitoring(SpecModel):
    """Prometheus integration; switched by explicit values, never by cluster discovery."""

    service_monitor: bool = Field(
        False, description="Render ServiceMonitors (needs the Prometheus Operator CRDs)."
    )
    prometheus_rule: bool = Field(False, description="Render the PrometheusRule with alerts.")
    exporter: bool = Field(True, description="Run a redis_exporter sidecar next to Redis.")
    exporter_image: ExporterImage = Field(
        default_factory=lambda: ExporterImage(),
        description="redis_exporter sidecar image (needs TLS and ACL user support: >= 1.45).",
    )
    namespace: str = Field(
        "monitoring", description="Namespace allowed to scrape metrics ports (NetworkPolicy)."
    )
    alerts: Alerts = Field(default_factory=Alerts, description="Alert switches and thresholds.")


class Keda(SpecModel):
    """KEDA integration of the chart."""

    enabled: bool = Field(
        True,
        description="Render a ScaledObject per queue (needs KEDA >= 2.12). Off: fixed "
        "replicas = minReplicas.",
    )
    namespace: str = Field(
        "keda",
        description="Namespace of KEDA's operator: the only one allowed to reach the "
        "scheduler's scaling port (scaler metricsApi) or Redis (scaler redis).",
    )
    scaler: Literal["metricsApi", "redis"] = Field(
        "metricsApi",
        description="`metricsApi`: KEDA reads each queue's desired pods from the scheduler's "
        "read-only HTTPS endpoint, which sees pause, global concurrency, rate limit, busy "
        "workers, delayed jobs due soon and job age (docs/autoscaling.md). `redis`: KEDA's "
        "plain redis scaler on key lengths (wait + prioritized + active, delayed to wake): "
        "nothing extra to run, but it scales a paused, capped or rate-limited queue to "
        "maxReplicas of idle pods. metricsApi needs KEDA >= 2.17, scheduler.replicas >= 1 "
        "and Redis TLS and auth on (the endpoint's certificate and token come from them).",
    )


class NetworkPolicies(SpecModel):
    """Who may reach Redis and the metrics ports."""

    enabled: bool = Field(True, description="Render NetworkPolicies.")
    client_label: str = Field(
        "bullmq-platform/redis-client",
        description='Pods labelled `<clientLabel>: "true"` may also reach Redis.',
    )


class PlatformSpec(SpecModel):
    """A whole deployment of the platform: the chart's values, the stack's config."""

    environment: Literal["dev", "staging", "prod"] = Field(
        "dev", description="Stack environment. Only dev may turn TLS, auth or persistence off."
    )
    namespace: DnsLabel = Field("bullmq", description="Namespace of every object.")
    fullname_override: DnsLabel | None = Field(
        None,
        description="Base name of every object; null uses the Helm release name (plus the "
        "chart name unless the release name already contains it).",
    )
    key_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        "bull",
        description="BullMQ key prefix. Producers, workers and the scaler must agree: a wrong "
        "prefix reads as an empty queue, silently.",
    )
    image: Image = Field(default_factory=Image, description="Worker/scheduler image.")
    redis: Redis = Field(default_factory=Redis, description="Redis.")
    queues: list[Queue] = Field(
        default_factory=lambda: default_queues(), description="The queue catalog."
    )
    schedules: list[Schedule] = Field(
        default_factory=lambda: default_schedules(), description="Repeating jobs."
    )
    scheduler: SchedulerService = Field(
        default_factory=SchedulerService, description="Scheduler service."
    )
    keda: Keda = Field(default_factory=Keda, description="Autoscaling with KEDA.")
    monitoring: Monitoring = Field(default_factory=Monitoring, description="Metrics and alerts.")
    network_policies: NetworkPolicies = Field(
        default_factory=NetworkPolicies, description="NetworkPolicies."
    )
    dashboard: Dashboard = Field(
        default_factory=Dashboard, description="The bull-board dashboard (off by default)."
    )
    maintenance_queue: str = Field(
        "scheduled-jobs",
        description="Queue whose worker runs the maintenance jobs (cleanup, health check, "
        "metrics aggregation, retention).",
    )

    def queue(self, name: str) -> Queue:
        """The queue named `name`; KeyError if the catalog has none."""
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    @model_validator(mode="after")
    def _catalog(self) -> PlatformSpec:
        problems = catalog_problems(self) + check_environment(self)
        if problems:
            # One line per problem, each starting with the field path it is about;
            # spec_problems() splits them back into (path, message).
            text = "\n".join(f"{path}: {msg}" for path, msg in problems)
            raise PydanticCustomError(CATALOG_ERROR, "{problems}", {"problems": text})
        return self


def _duplicates(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


def default_queues() -> list[Queue]:
    """Seed 000's catalog: five queues with its job types and operational settings."""
    handlers = "workers.handlers"
    return [
        Queue(
            name="agent-execution",
            handler=f"{handlers}.agent_execution",
            jobs=[JobType(name=n) for n in ("execute-agent", "spawn-subagent", "resume-agent")],
            concurrency=5,
            default_priority=PRIORITY_LEVELS["high"],
            rate_limit=RateLimit(max=10, duration_ms=1000),
            job_timeout_seconds=600,
        ),
        Queue(
            name="workflow-orchestration",
            handler=f"{handlers}.workflow_orchestration",
            jobs=[
                JobType(name=n)
                for n in (
                    "start-workflow",
                    "execute-step",
                    "complete-workflow",
                    "rollback-workflow",
                )
            ],
            concurrency=10,
        ),
        Queue(
            name="background-tasks",
            handler=f"{handlers}.background_tasks",
            jobs=[
                JobType(name=n)
                for n in ("generate-report", "cleanup-old-data", "sync-external", "index-content")
            ],
            concurrency=5,
            default_priority=PRIORITY_LEVELS["low"],
            job_timeout_seconds=900,
        ),
        Queue(
            name="scheduled-jobs",
            handler=f"{handlers}.maintenance",
            jobs=[
                JobType(name=n)
                for n in ("daily-cleanup", "health-check", "metrics-aggregate", "retention-enforce")
            ],
            concurrency=2,
            default_priority=PRIORITY_LEVELS["background"],
            autoscaling=Autoscaling(min_replicas=1, max_replicas=2),
        ),
        Queue(
            name="notifications",
            handler=f"{handlers}.notifications",
            jobs=[JobType(name=n) for n in ("send-email", "send-webhook", "send-slack")],
            concurrency=10,
            attempts=5,
            job_timeout_seconds=60,
        ),
    ]


def default_schedules() -> list[Schedule]:
    """Seed 000's maintenance schedules, all in UTC, all on the maintenance queue."""
    crons = {
        "daily-cleanup": "0 2 * * *",
        "health-check": "*/5 * * * *",
        "metrics-aggregate": "0 * * * *",
        "retention-enforce": "0 3 * * *",
    }
    return [
        Schedule(name=name, cron=cron, queue="scheduled-jobs", job_name=name)
        for name, cron in crons.items()
    ]


def check_environment(spec: PlatformSpec) -> list[tuple[str, str]]:
    """(field path, message) for every setting a non-dev stack must not relax."""
    if spec.environment == "dev":
        return []
    problems = []
    relaxed = {
        "redis.tls.enabled": spec.redis.tls.enabled,
        "redis.auth.enabled": spec.redis.auth.enabled,
    }
    if spec.redis.mode == "in-cluster":
        relaxed["redis.persistence.enabled"] = spec.redis.persistence.enabled
    for path, on in relaxed.items():
        if not on:
            problems.append((path, f"must be true for environment {spec.environment!r}"))
    return problems


def catalog_problems(spec: PlatformSpec) -> list[tuple[str, str]]:
    """(field path, message) for rules that span queues, schedules and KEDA."""
    problems = []
    for field, items in (("queues", spec.queues), ("schedules", spec.schedules)):
        dupes = _duplicates([item.name for item in items])
        if dupes:
            problems.append((field, f"duplicate names: {', '.join(dupes)}"))
    names = {q.name: i for i, q in enumerate(spec.queues)}
    clash = sorted({q.dlq_name for q in spec.queues} & set(names))
    if clash:
        problems.append(("queues", f"names clash with dead-letter queues: {', '.join(clash)}"))
    if spec.queues and spec.maintenance_queue not in names:
        problems.append(("maintenanceQueue", f"{spec.maintenance_queue!r} is not in queues"))
    for i, sched in enumerate(spec.schedules):
        if sched.queue not in names:
            problems.append(
                (f"schedules[{i}].queue", f"unknown queue {sched.queue!r} (known: {sorted(names)})")
            )
            continue
        queue = spec.queues[names[sched.queue]]
        job_names = {j.name for j in queue.jobs} | {"ping"}
        if sched.job_name not in job_names:
            problems.append(
                (
                    f"schedules[{i}].jobName",
                    f"queue {queue.name!r} has no job {sched.job_name!r} "
                    f"(known: {sorted(job_names)})",
                )
            )
    for i, queue in enumerate(spec.queues):
        auto = queue.autoscaling
        if auto.min_replicas == 0 and not (spec.keda.enabled and auto.wake_on_delayed):
            why = "KEDA is disabled" if not spec.keda.enabled else "wakeOnDelayed is false"
            problems.append(
                (
                    f"queues[{i}].autoscaling.minReplicas",
                    f"0 would strand delayed jobs (retries with backoff, schedules) because "
                    f"{why}: only a running worker promotes them",
                )
            )
    return problems + metrics_api_problems(spec)


def metrics_api_problems(spec: PlatformSpec) -> list[tuple[str, str]]:
    """(field path, message) for the metricsApi scaler: KEDA asks the scheduler.

    The scheduler serves each queue's desired pods over HTTPS with a bearer token:
    it must run, and its certificate and token come from the TLS and auth Secrets.
    """
    if not (spec.keda.enabled and spec.keda.scaler == "metricsApi"):
        return []
    problems = []
    why = "keda.scaler metricsApi reads every queue's desired pods from the scheduler"
    if spec.scheduler.replicas < 1:
        problems.append(("scheduler.replicas", f"must be at least 1: {why}"))
    if not spec.redis.tls.enabled:
        problems.append(
            (
                "redis.tls.enabled",
                "must be true with keda.scaler metricsApi: the scaling endpoint's certificate "
                "comes from the TLS Secret (or use keda.scaler redis)",
            )
        )
    if not spec.redis.auth.enabled:
        problems.append(
            (
                "redis.auth.enabled",
                "must be true with keda.scaler metricsApi: KEDA's bearer token "
                "(passwordKeys.scalingToken) lives in the auth Secret (or use keda.scaler redis)",
            )
        )
    return problems


class SpecError(ValueError):
    """A spec rejected as a whole, with one (field path, message) per problem."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("\n".join(f"{path}: {msg}" for path, msg in problems))


def validate_spec(data: dict[str, Any]) -> PlatformSpec:
    """Parse and check a whole spec; SpecError names every offending field."""
    try:
        return PlatformSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(spec_problems(exc)) from None


def spec_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Flatten pydantic errors into (field path, message), paths in camelCase."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        path, msg = _loc(err["loc"]), str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == CATALOG_ERROR:
            for line in msg.splitlines():
                sub, _, text = line.partition(": ")
                problems.append((sub if path == "(root)" else f"{path}.{sub}", text))
        else:
            problems.append((path, msg))
    return problems


def _loc(loc: tuple[int | str, ...]) -> str:
    """`('queues', 2, 'autoscaling')` -> `queues[2].autoscaling`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"
