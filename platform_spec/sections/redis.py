"""The `redis` section: image, persistence, TLS, ACL users, in-cluster or external."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from platform_spec.base import SpecModel
from platform_spec.quantities import (
    REDIS_MEMORY_PATTERN,
    k8s_memory_bytes,
    redis_memory_bytes,
)
from platform_spec.sections.common import (
    MemoryQuantity,
    Resources,
)
from platform_spec.sections.redis_cluster import ClusterMode
from platform_spec.sections.redis_sentinel import ExternalSentinel, Sentinel

# Share of the memory limit kept free above maxmemory for the fork of an RDB snapshot
# or AOF rewrite (copy-on-write pages, rewrite buffer) and the allocator's overhead.
FORK_HEADROOM = 0.2

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
    disk_reserve_percent: int = Field(
        10,
        ge=1,
        le=50,
        description="With appendfsync `always`, Redis exits at the first AOF write that finds "
        "the disk full. While less than this share of the PVC is free, the reloader beside "
        "Redis switches to `everysec`, so a full disk refuses writes (MISCONF, alert "
        "BullmqRedisAofWriteErrors) and Redis stays up; `always` again at twice the share.",
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
    cluster: str = Field(
        "cluster-password",
        description="Key of the `cluster` user's password (redis.mode cluster): replicas log "
        "in to their primary with it, and the in-pod bootstrap and `redis-cli --cluster "
        "reshard` use it. Unused in the other modes.",
    )
    dashboard: str = Field(
        "dashboard-password",
        description="Key of the dashboard user's password (dashboard.enabled).",
    )
    replication: str = Field(
        "replication-password",
        description="Key of the replication user's password (redis.mode sentinel): "
        "replicas log in to the primary with it.",
    )
    sentinel: str = Field(
        "sentinel-password",
        description="Key of the sentinel user's password (redis.mode sentinel): Sentinels "
        "log in to the data nodes and to each other with it.",
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
    previous_password_suffix: str = Field(
        "-previous",
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="During a rotation the Secret also holds each user's previous password "
        "under `<key><suffix>` (e.g. `worker-password-previous`): Redis accepts both until "
        "the key is removed. Absent keys are fine.",
    )
    reload_interval_seconds: int = Field(
        10,
        ge=1,
        le=300,
        description="How often the reloader beside Redis checks the mounted password and "
        "certificate files and applies a change without a restart (the kubelet itself "
        "refreshes Secret volumes within about a minute).",
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
    cluster: bool = Field(
        False,
        description="The endpoint is a Redis Cluster (a managed cluster-mode Redis): clients "
        "discover the shards from it and every queue's keys carry a hash tag "
        "(see redis.cluster.tagGroups).",
    )
    sentinel: ExternalSentinel = Field(
        default_factory=ExternalSentinel,
        description="Follow the primary of an existing Sentinel deployment instead of one "
        "`host` (clients re-resolve it at every reconnect).",
    )


class Redis(SpecModel):
    """The Redis that holds every queue."""

    mode: Literal["in-cluster", "sentinel", "external", "cluster"] = Field(
        "in-cluster",
        description="`in-cluster`: the chart runs a TLS Redis StatefulSet; `sentinel`: the "
        "chart runs a primary, replicas and a Sentinel beside each (failover without a "
        "restart); `external`: connect to a managed Redis or an existing Sentinel "
        "deployment (nothing may depend on CONFIG, which they refuse); `cluster`: the chart "
        "runs a Redis Cluster of redis.cluster.shards primaries (docs/redis-cluster.md).",
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
        "of jobs vanishing (silent). At most 80% of resources.memoryLimit: the rest is fork "
        "headroom for RDB snapshots and AOF rewrites.",
    )
    maxmemory_policy: str = Field(
        "noeviction",
        json_schema_extra={"enum": ["noeviction"]},
        description="Must be `noeviction`: any evicting policy silently deletes job keys.",
    )
    persistence: Persistence = Field(default_factory=Persistence, description="AOF and RDB.")
    pdb_max_unavailable: int = Field(
        1,
        ge=0,
        le=1,
        description="The Redis PodDisruptionBudget's maxUnavailable. 1 (default): a node drain "
        "or upgrade may evict the single Redis; queues pause for its restart (AOF replay, "
        "usually seconds) and clients reconnect. 0: every eviction is refused, so `kubectl "
        "drain` hangs and cluster-autoscaler never frees the node until you move Redis.",
    )
    tls: Tls = Field(default_factory=Tls, description="TLS certificates.")
    auth: Auth = Field(default_factory=Auth, description="ACL users and passwords.")
    sentinel: Sentinel = Field(
        default_factory=Sentinel, description="Replication and Sentinel (mode sentinel)."
    )
    external: ExternalRedis = Field(
        default_factory=ExternalRedis, description="Managed Redis settings (mode external)."
    )
    cluster: ClusterMode = Field(
        default_factory=ClusterMode,
        description="Redis Cluster shards and key layout (mode cluster, or external with "
        "external.cluster).",
    )
    pod_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Extra annotations on the Redis pod template; a changed value rolls the "
        "pod. Not needed for renewals: the reloader beside Redis applies renewed certificate "
        "files and rotated passwords without a restart.",
    )

    producer_memory_limit_percent: int = Field(
        85,
        ge=50,
        le=95,
        description="Producers (`ops enqueue`, handlers' enqueues, flows, samples) are refused "
        "once used memory reaches this share of maxmemory; the rest is a reserve in which "
        "workers keep fetching, finishing and dead-lettering, so a full Redis drains instead "
        "of deadlocking (noeviction refuses a worker's fetch too). The memory alerts fire "
        "before it (docs/memory.md).",
    )

    @property
    def is_cluster(self) -> bool:
        """Clients talk Redis Cluster: the in-cluster cluster or a managed one."""
        return self.mode == "cluster" or (self.mode == "external" and self.external.cluster)

    @field_validator("maxmemory_policy")
    @classmethod
    def _noeviction(cls, value: str) -> str:
        if value != "noeviction":
            kind = "evicts job keys silently" if value in EVICTING_POLICIES else "is not allowed"
            raise ValueError(f"maxmemoryPolicy {value!r} {kind}; BullMQ requires `noeviction`")
        return value

    @model_validator(mode="after")
    def _mode_and_memory(self) -> Redis:
        if (
            self.mode == "external"
            and not self.external.host
            and not self.external.sentinel.enabled
        ):
            raise ValueError(
                "external.host (or external.sentinel.addresses) is required when mode is external"
            )
        if self.external.cluster and self.external.sentinel.enabled:
            raise ValueError(
                "external.cluster and external.sentinel exclude each other: a Redis Cluster "
                "fails over by itself, without Sentinels"
            )
        limit = k8s_memory_bytes(self.resources.memory_limit)
        if self.mode != "external" and redis_memory_bytes(self.maxmemory) > limit * (
            1 - FORK_HEADROOM
        ):
            raise ValueError(
                f"maxmemory {self.maxmemory} must be below resources.memoryLimit "
                f"{self.resources.memory_limit} by at least {FORK_HEADROOM:.0%} (at most "
                f"{int(limit * (1 - FORK_HEADROOM)) // 2**20}mb): an RDB snapshot or AOF "
                "rewrite forks, and its copy-on-write pages plus the rewrite buffer count "
                "against the limit; over it the pod is OOM-killed"
            )
        return self
