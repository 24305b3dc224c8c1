"""The typed deployment spec: the single source of truth.

One `PlatformSpec` describes a deployment. The Pulumi program reads it from
stack config, the chart's `values.yaml` and `values.schema.json` are generated
from it, and the workers and scheduler read it (rendered into a ConfigMap) at
run time. Every default is written in this package and nowhere else.

The sections live in platform_spec/sections/, the default catalog in
platform_spec/catalog.py, the cross-field checks in platform_spec/problems.py;
this module assembles them and re-exports their public names.

Field descriptions are operational: what breaks if a value is wrong, and which
other value it must agree with. They flow into the chart's schema, the
`## @param` lines of values.yaml and the README's values table.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from platform_spec.base import SpecModel
from platform_spec.catalog import (
    default_queues,
    default_schedules,
)
from platform_spec.image_policy import image_problems
from platform_spec.keys import DEFAULT_PREFIX, PlatformKeys, QueueKeys, hash_tagged_prefix
from platform_spec.pod_facts import CLUSTER_DOMAIN, GRACE_MARGIN_SECONDS
from platform_spec.problems import (
    CATALOG_ERROR,
    SpecError,
    SpecView,
    catalog_problems,
    check_environment,
    metrics_api_problems,
    spec_problems,
)
from platform_spec.sections.cluster import (
    Alerts,
    ExporterImage,
    Keda,
    Monitoring,
    NetworkPolicies,
    Scheduling,
)
from platform_spec.sections.common import (
    DNS_LABEL,
    MAX_PRIORITY,
    PRIORITY_LEVELS,
    QUEUE_NAME_MAX,
    CpuQuantity,
    DnsLabel,
    Image,
    ImportPath,
    MemoryQuantity,
    Resources,
    duplicates,
)
from platform_spec.sections.dashboard import Dashboard
from platform_spec.sections.queues import (
    Autoscaling,
    Backoff,
    DeadLetter,
    JobType,
    Queue,
    RateLimit,
    Retention,
    Tenancy,
)
from platform_spec.sections.redis import (
    EVICTING_POLICIES,
    Auth,
    ExternalRedis,
    PasswordKeys,
    Persistence,
    RdbRule,
    Redis,
    RedisImage,
    Tls,
)
from platform_spec.sections.redis_cluster import ClusterMode, Flow, TagGroup
from platform_spec.sections.schedules import (
    Schedule,
    SchedulerService,
)
from platform_spec.sizing import retention_problems

__all__ = [
    "CATALOG_ERROR",
    "DNS_LABEL",
    "EVICTING_POLICIES",
    "GRACE_MARGIN_SECONDS",
    "MAX_PRIORITY",
    "PRIORITY_LEVELS",
    "QUEUE_NAME_MAX",
    "Alerts",
    "Auth",
    "Autoscaling",
    "Backoff",
    "ClusterMode",
    "CpuQuantity",
    "DeadLetter",
    "DnsLabel",
    "ExporterImage",
    "ExternalRedis",
    "Flow",
    "Image",
    "ImportPath",
    "JobType",
    "Keda",
    "MemoryQuantity",
    "Monitoring",
    "NetworkPolicies",
    "PasswordKeys",
    "Persistence",
    "PlatformSpec",
    "Queue",
    "RateLimit",
    "RdbRule",
    "Redis",
    "RedisImage",
    "Resources",
    "Retention",
    "Schedule",
    "SchedulerService",
    "SpecError",
    "SpecView",
    "TagGroup",
    "Tenancy",
    "Tls",
    "catalog_problems",
    "check_environment",
    "default_queues",
    "default_schedules",
    "duplicates",
    "metrics_api_problems",
    "spec_problems",
    "validate_spec",
]


class PlatformSpec(SpecModel):
    """A whole deployment of the platform: the chart's values, the stack's config."""

    environment: Literal["dev", "staging", "prod"] = Field(
        "dev", description="Stack environment. Only dev may turn TLS, auth or persistence off."
    )
    namespace: DnsLabel = Field("bullmq", description="Namespace of every object.")
    cluster_domain: Annotated[
        str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    ] = Field(
        CLUSTER_DOMAIN,
        description="The cluster's DNS domain: clients reach a Service as "
        "`<svc>.<namespace>.svc.<clusterDomain>`, and Redis's server certificate names it.",
    )
    fullname_override: DnsLabel | None = Field(
        None,
        description="Base name of every object; null uses the Helm release name (plus the "
        "chart name unless the release name already contains it).",
    )
    key_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        DEFAULT_PREFIX,
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
    scheduling: Scheduling = Field(
        default_factory=Scheduling, description="Pod placement, spreading and drains."
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

    def queue_prefix(self, queue: str) -> str:
        """The BullMQ prefix of a queue (or its dead-letter queue).

        `keyPrefix` itself, except in Redis Cluster mode, where it carries the
        queue's hash tag (platform_spec/sections/redis_cluster.py): a DLQ shares
        its queue's tag, a queue outside the catalog gets its own name as tag.
        """
        if not self.redis.is_cluster:
            return self.key_prefix
        for q in self.queues:
            if q.partitions > 1 and queue in q.partition_names:
                # A partition's own name is its tag: the partitions spread over the shards.
                return hash_tagged_prefix(self.key_prefix, queue)
        owner = next((q.name for q in self.queues if queue in (q.name, q.dlq_name)), queue)
        return hash_tagged_prefix(self.key_prefix, self.redis.cluster.tag_of(owner))

    def partition_keys(self, queue: str) -> list[QueueKeys]:
        """Key names of each BullMQ queue holding a catalog queue's jobs (its partitions,
        or itself): what counts and the scaling signal add up. A name outside the
        catalog (a DLQ) is one BullMQ queue."""
        known = next((q for q in self.queues if q.name == queue), None)
        names = known.partition_names if known else [queue]
        return [self.queue_keys(name) for name in names]

    def schedule_queue(self, queue: str) -> str:
        """The BullMQ queue a catalog queue's schedules tick into: partition 0 of a
        partitioned queue (a job scheduler lives in one queue), else the queue itself."""
        return self.queue(queue).partition_names[0]

    def platform_keys(self) -> PlatformKeys:
        """Key names of the platform's own records (one slot in cluster mode)."""
        return PlatformKeys(self.key_prefix, tagged=self.redis.is_cluster)

    def queue_keys(self, queue: str) -> QueueKeys:
        """Key names of a queue (or its DLQ) under its prefix."""
        return QueueKeys(self.queue_prefix(queue), queue)

    @model_validator(mode="after")
    def _catalog(self) -> PlatformSpec:
        problems = catalog_problems(self) + check_environment(self)
        problems += retention_problems(self.queues, self.redis.maxmemory)
        images = {"image.repository": self.image.repository}
        if self.dashboard.enabled:
            images["dashboard.image.repository"] = self.dashboard.image.repository
        problems += image_problems(self.environment, images)
        if problems:
            # One line per problem, each starting with the field path it is about;
            # spec_problems() splits them back into (path, message).
            text = "\n".join(f"{path}: {msg}" for path, msg in problems)
            raise PydanticCustomError(CATALOG_ERROR, "{problems}", {"problems": text})
        return self


def validate_spec(data: dict[str, Any]) -> PlatformSpec:
    """Parse and check a whole spec; SpecError names every offending field."""
    try:
        return PlatformSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(spec_problems(exc)) from None
