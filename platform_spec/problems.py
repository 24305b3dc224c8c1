"""Cross-field checks of a whole spec, and pydantic errors as (field path, message).

Every problem names the field it is about in camelCase (`queues[2].autoscaling.minReplicas`),
so stack config, values files and the CLI report the same path.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import (
    ValidationError,
)

from platform_spec.sections.cluster import (
    Keda,
)
from platform_spec.sections.common import (
    duplicates,
)
from platform_spec.sections.queues import (
    Queue,
)
from platform_spec.sections.redis import (
    Redis,
)
from platform_spec.sections.redis_sentinel import sentinel_problems
from platform_spec.sections.schedules import (
    Schedule,
    SchedulerService,
)

# Error type of the whole-spec validator, whose message carries field paths.
CATALOG_ERROR = "spec_catalog"


class SpecView(Protocol):
    """The parts of a PlatformSpec the checks read (platform_spec/model.py's PlatformSpec
    is one); a protocol, so the checks do not import the model that runs them."""

    @property
    def environment(self) -> str: ...

    @property
    def redis(self) -> Redis: ...

    @property
    def queues(self) -> list[Queue]: ...

    @property
    def schedules(self) -> list[Schedule]: ...

    @property
    def scheduler(self) -> SchedulerService: ...

    @property
    def keda(self) -> Keda: ...

    @property
    def maintenance_queue(self) -> str: ...


def check_environment(spec: SpecView) -> list[tuple[str, str]]:
    """(field path, message) for every setting a non-dev stack must not relax."""
    if spec.environment == "dev":
        return []
    problems = []
    relaxed = {
        "redis.tls.enabled": spec.redis.tls.enabled,
        "redis.auth.enabled": spec.redis.auth.enabled,
    }
    if spec.redis.mode != "external":
        relaxed["redis.persistence.enabled"] = spec.redis.persistence.enabled
    for path, on in relaxed.items():
        if not on:
            problems.append((path, f"must be true for environment {spec.environment!r}"))
    redis = spec.redis
    problems += sentinel_problems(
        spec.environment, redis.mode, redis.sentinel, redis.external.sentinel
    )
    return problems


def catalog_problems(spec: SpecView) -> list[tuple[str, str]]:
    """(field path, message) for rules that span queues, schedules and KEDA."""
    problems = []
    for field, items in (("queues", spec.queues), ("schedules", spec.schedules)):
        dupes = duplicates([item.name for item in items])
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
    problems += partition_problems(spec)
    if spec.redis.is_cluster:
        problems += spec.redis.cluster.layout_problems(list(names))
    return problems + metrics_api_problems(spec)


def partition_problems(spec: SpecView) -> list[tuple[str, str]]:
    """(field path, message) for partitioned queues (`queues[].partitions` > 1)."""
    problems: list[tuple[str, str]] = []
    taken = {q.name for q in spec.queues} | {q.dlq_name for q in spec.queues}
    partitioned = {q.name for q in spec.queues if q.partitions > 1}
    for i, queue in enumerate(spec.queues):
        if queue.partitions == 1:
            continue
        path = f"queues[{i}].partitions"
        clash = sorted(set(queue.partition_names) & taken)
        if clash:
            problems.append((path, f"partition queues clash with queue names: {clash}"))
        if queue.partitions > queue.concurrency:
            problems.append(
                (
                    path,
                    f"{queue.partitions} exceeds concurrency ({queue.concurrency}): each "
                    "partition needs at least one of a worker's concurrency slots",
                )
            )
        if queue.rate_limit and queue.partitions > queue.rate_limit.max:
            problems.append(
                (
                    path,
                    f"{queue.partitions} exceeds rateLimit.max ({queue.rate_limit.max}): each "
                    "partition gets max / partitions jobs per window",
                )
            )
    cluster = spec.redis.cluster
    for i, group in enumerate(cluster.tag_groups):
        hit = sorted(set(group.queues) & partitioned)
        if hit:
            problems.append(
                (
                    f"redis.cluster.tagGroups[{i}].queues",
                    f"partitioned queues {hit} cannot share a tag: each partition has its own "
                    "hash tag (set partitions: 1 or leave them out of the group)",
                )
            )
    for i, flow in enumerate(cluster.flows):
        hit = sorted(set(flow.queues) & partitioned)
        if hit:
            problems.append(
                (
                    f"redis.cluster.flows[{i}].queues",
                    f"flow {flow.name!r} spans partitioned queues {hit}: a flow's jobs must "
                    "share one hash slot and a partitioned queue spans several",
                )
            )
    return problems


def metrics_api_problems(spec: SpecView) -> list[tuple[str, str]]:
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
