"""Redis high availability: replication with Sentinel, in-cluster or an existing deployment.

`redis.mode: sentinel` runs one primary, `replicas` replicas and a Sentinel beside each
node; `redis.mode: external` with `external.sentinel.addresses` follows a Sentinel
deployment someone else runs. Clients ask the Sentinels for the primary at every
(re)connect, so a failover needs no restart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from platform_spec.base import SpecModel

# Sentinel's own port, in pods and in the chart's headless Service.
SENTINEL_PORT = 26379
# Fewer Sentinels than this cannot elect a leader after losing one node.
MIN_SENTINELS = 3
# Redis counts a replica's lag in whole seconds and refreshes its good-replica count once a
# second, so a silent replica still counts up to about this long past min-replicas-max-lag.
REPLICA_LAG_SLACK_MS = 1000

MasterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$")]
HostPort = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*:[0-9]{1,5}$")]


class Sentinel(SpecModel):
    """Replication and Sentinel settings of `redis.mode: sentinel`."""

    replicas: int = Field(
        2,
        ge=1,
        le=8,
        description="Replicas beside the primary; each node runs a Sentinel too, so "
        "replicas + 1 Sentinels vote. Outside dev at least 2 (3 Sentinels): with 2 "
        "Sentinels, losing one node leaves no majority to fail over.",
    )
    master_name: MasterName = Field(
        "bullmq", description="Name the Sentinels monitor the primary under (clients ask for it)."
    )
    port: int = Field(SENTINEL_PORT, ge=1, le=65535, description="TLS port of each Sentinel.")
    quorum: int = Field(
        2,
        ge=1,
        description="Sentinels that must agree the primary is down before a failover. At "
        "most the number of Sentinels (replicas + 1).",
    )
    down_after_milliseconds: int = Field(
        5000,
        ge=500,
        le=600000,
        description="How long the primary may not answer before a Sentinel calls it down. "
        "Sentinel's stock 30 s leaves queues stalled that long; lower detects sooner but a "
        "long fork or a GC-paused node may trigger a needless failover. Must exceed "
        "minReplicasMaxLagSeconds * 1000 + 1000, so a cut-off old primary stops taking "
        "writes before a replica is promoted.",
    )
    failover_timeout_milliseconds: int = Field(
        10000,
        ge=1000,
        le=3600000,
        description="Sentinel `failover-timeout`: how long one failover attempt may take "
        "before another Sentinel retries it (stock 180 s).",
    )
    min_replicas_to_write: int = Field(
        1,
        ge=0,
        description="Redis `min-replicas-to-write`: a primary that sees fewer replicas "
        "refuses writes, so a partitioned old primary cannot accept enqueues that the "
        "failover then discards. At most `replicas`.",
    )
    min_replicas_max_lag_seconds: int = Field(
        2,
        ge=1,
        le=3600,
        description="Redis `min-replicas-max-lag`: a replica silent longer than this no "
        "longer counts towards minReplicasToWrite. Below downAfterMilliseconds (with 1 s "
        "to spare), or a cut-off old primary keeps acknowledging writes after the failover "
        "that the promoted replica never sees. 1 s flaps under load (replicas ACK once a "
        "second).",
    )
    wait_replicas: int | None = Field(
        None,
        ge=0,
        description="The platform's producers (ops CLI, ctx.enqueue, scheduler) send `WAIT n` "
        "after each add and report the add failed unless n replicas acknowledged it, so an "
        "acknowledged enqueue survives a failover. null: 1 outside dev, 0 in dev. At most "
        "`replicas`.",
    )
    wait_timeout_milliseconds: int = Field(
        1000,
        ge=1,
        le=60000,
        description="How long `WAIT` may block one enqueue before it is reported failed.",
    )

    anti_affinity: Literal["soft", "hard"] = Field(
        "soft",
        description="Keep the Redis pods on different nodes: `soft` prefers it (a small "
        "cluster still schedules every pod), `hard` requires it (a pod stays Pending "
        "rather than share a node, which would let one node failure take a majority).",
    )
    resources_cpu_request: str = Field(
        "25m", description="CPU request of the Sentinel container beside each Redis."
    )
    resources_memory: str = Field(
        "64Mi", description="Memory request and limit of the Sentinel container."
    )

    @property
    def sentinels(self) -> int:
        """Number of Sentinels: one beside every node."""
        return self.replicas + 1

    def effective_wait_replicas(self, environment: str) -> int:
        """waitReplicas with its environment default filled in."""
        if self.wait_replicas is not None:
            return self.wait_replicas
        return 0 if environment == "dev" else 1

    @model_validator(mode="after")
    def _fits_replicas(self) -> Sentinel:
        if self.quorum > self.sentinels:
            raise ValueError(
                f"quorum {self.quorum} exceeds the {self.sentinels} Sentinels "
                f"(replicas + 1): no failover could ever be agreed"
            )
        if self.min_replicas_to_write > self.replicas:
            raise ValueError(
                f"minReplicasToWrite {self.min_replicas_to_write} exceeds replicas "
                f"{self.replicas}: the primary would refuse every write"
            )
        lag_ms = self.min_replicas_max_lag_seconds * 1000 + REPLICA_LAG_SLACK_MS
        if self.min_replicas_to_write and lag_ms >= self.down_after_milliseconds:
            raise ValueError(
                f"minReplicasMaxLagSeconds {self.min_replicas_max_lag_seconds}: a cut-off "
                f"primary counts a silent replica for up to {lag_ms} ms, not less than "
                f"downAfterMilliseconds {self.down_after_milliseconds}, so it would accept "
                "writes after the failover that are then lost; lower minReplicasMaxLagSeconds "
                f"or raise downAfterMilliseconds above {lag_ms}"
            )
        if self.wait_replicas is not None and self.wait_replicas > self.replicas:
            raise ValueError(
                f"waitReplicas {self.wait_replicas} exceeds replicas {self.replicas}: "
                "every enqueue would be reported failed"
            )
        return self


class ExternalSentinel(SpecModel):
    """A Sentinel deployment outside this chart (mode `external`)."""

    addresses: list[HostPort] = Field(
        default_factory=list,
        description="`host:port` of each Sentinel (TLS). Empty: external.host is a plain "
        "Redis. Outside dev at least 3.",
    )
    master_name: MasterName | None = Field(
        None, description="Name the Sentinels monitor the primary under. Required with addresses."
    )
    username: str | None = Field(
        None, description="ACL user for the Sentinel connections; null for none."
    )
    wait_replicas: int = Field(
        0,
        ge=0,
        description="`WAIT n` after each of the platform's own enqueues (see "
        "redis.sentinel.waitReplicas).",
    )
    wait_timeout_milliseconds: int = Field(
        1000, ge=1, le=60000, description="How long `WAIT` may block one enqueue."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.addresses)

    @model_validator(mode="after")
    def _master_named(self) -> ExternalSentinel:
        if self.addresses and not self.master_name:
            raise ValueError("masterName is required when addresses are set")
        return self


def sentinel_problems(
    environment: str, mode: str, sentinel: Sentinel, external: ExternalSentinel
) -> list[tuple[str, str]]:
    """(field path, message) for Sentinel setups that cannot survive a node outside dev."""
    if environment == "dev":
        return []
    if mode == "sentinel" and sentinel.sentinels < MIN_SENTINELS:
        return [
            (
                "redis.sentinel.replicas",
                f"{sentinel.replicas} replicas make {sentinel.sentinels} Sentinels; "
                f"environment {environment!r} needs at least {MIN_SENTINELS} "
                f"(replicas >= {MIN_SENTINELS - 1}) so a failover has a majority",
            )
        ]
    if mode == "external" and external.enabled and len(external.addresses) < MIN_SENTINELS:
        return [
            (
                "redis.external.sentinel.addresses",
                f"{len(external.addresses)} Sentinels; environment {environment!r} needs "
                f"at least {MIN_SENTINELS} so a failover has a majority",
            )
        ]
    return []


def wait_policy(
    environment: str, mode: str, sentinel: Sentinel, external: ExternalSentinel
) -> tuple[int, int]:
    """(replicas, timeout ms) the platform's producers WAIT for after each add; (0, 0): none."""
    if mode == "sentinel":
        return sentinel.effective_wait_replicas(environment), sentinel.wait_timeout_milliseconds
    if mode == "external" and external.enabled and external.wait_replicas:
        return external.wait_replicas, external.wait_timeout_milliseconds
    return 0, 0
