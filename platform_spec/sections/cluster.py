"""Cluster integrations: alerts and monitoring, KEDA, NetworkPolicies, pod placement."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
)

from platform_spec.base import SpecModel
from platform_spec.sections.common import DnsLabel


class Alerts(SpecModel):
    """Default PrometheusRule alerts, each switchable."""

    redis_down: bool = Field(True, description="Alert: Redis unreachable.")
    redis_memory_high: bool = Field(
        True,
        description="Alert (warning): memory 10 points of maxmemory below "
        "redis.producerMemoryLimitPercent (75% by default).",
    )
    redis_nearly_full: bool = Field(
        True,
        description="Alert (critical): memory at redis.producerMemoryLimitPercent of maxmemory; "
        "producers are refused, workers drain in the reserve.",
    )
    aof_write_errors: bool = Field(True, description="Alert: AOF write failing.")
    rdb_snapshot_failing: bool = Field(
        True, description="Alert: RDB snapshots failing (writes go on: the AOF holds them)."
    )
    pvc_nearly_full: bool = Field(True, description="Alert: Redis PVC above 85%.")
    queue_backlog: bool = Field(True, description="Alert: waiting jobs above waitingThreshold.")
    queue_failed: bool = Field(True, description="Alert: failed jobs above failedThreshold.")
    stuck_active: bool = Field(True, description="Alert: jobs active longer than stuckSeconds.")
    backlog_without_workers: bool = Field(True, description="Alert: backlog with no workers.")
    schedule_missed: bool = Field(True, description="Alert: a schedule missed 2 intervals.")
    certificate_expires_soon: bool = Field(
        True,
        description="Alert: the scaling endpoint's or Redis's certificate expires within "
        "certificateExpiryDays (no renewal reached it).",
    )
    certificate_expiry_days: int = Field(
        14, ge=1, description="Days before expiry that certificateExpiresSoon fires."
    )
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
    grafana_dashboard: bool = Field(
        False,
        description='Ship the Grafana dashboard as a ConfigMap labelled grafana_dashboard: "1" '
        "(the Grafana chart's dashboard sidecar loads it); its panels read the PrometheusRule's "
        "recording rules, so turn prometheusRule on too.",
    )
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
    client_cert_key: str = Field(
        "keda-client.crt",
        min_length=1,
        description="scaler metricsApi: key of the Redis TLS Secret holding KEDA's own client "
        "certificate (clientAuth, signed by the platform CA), which the scaling endpoint "
        "requires. Pulumi (tls.source generated) writes it; existingSecret: add it to your "
        "Secret; certManager: the chart issues a separate Certificate instead.",
    )
    client_key_key: str = Field(
        "keda-client.key",
        min_length=1,
        description="Key of the Redis TLS Secret holding the private key of KEDA's client "
        "certificate (see clientCertKey). Never the Redis server's key.",
    )


class NetworkPolicies(SpecModel):
    """Who may reach Redis and the metrics ports."""

    enabled: bool = Field(True, description="Render NetworkPolicies.")
    client_label: str = Field(
        "bullmq-platform/redis-client",
        description='Pods labelled `<clientLabel>: "true"` may also reach Redis (in the '
        "release namespace, and in each of clientNamespaces).",
    )
    client_namespaces: list[DnsLabel] = Field(
        default_factory=list,
        description='Other namespaces whose pods labelled `<clientLabel>: "true"` may reach '
        "Redis: producers usually run in their own namespace with the exported redisUrl. "
        "Matched by the `kubernetes.io/metadata.name` label every namespace carries.",
    )


class Scheduling(SpecModel):
    """Where pods run and how node drains and scale-downs treat them (README "Node drains")."""

    eviction_grace_seconds: int = Field(
        600,
        ge=0,
        description="The longest graceful termination an eviction grants; cluster-autoscaler "
        "honours up to its --max-graceful-termination-sec (600 by default). A worker whose "
        "grace period (jobTimeoutSeconds + margin) exceeds it is annotated "
        '`cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`; every other worker '
        "finishes its jobs on SIGTERM within the grace period, so the autoscaler may move it.",
    )
    topology_spread: Literal["soft", "hard", "off"] = Field(
        "soft",
        description="Spread the scheduler's and each queue's workers over topologyKey: `soft` "
        "prefers (ScheduleAnyway), `hard` requires (DoNotSchedule: pods may stay Pending on "
        "small clusters), `off` renders no constraint.",
    )
    topology_key: str = Field(
        "kubernetes.io/hostname",
        min_length=1,
        description="Node label the replicas spread over (e.g. topology.kubernetes.io/zone).",
    )
    priority_class_name: str | None = Field(
        None,
        description="PriorityClass of Redis, the scheduler and the workers (created by you); "
        "null uses the cluster default.",
    )
