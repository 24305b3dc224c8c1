"""Every input the spec refuses, with the field it names and why (table-driven)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from platform_spec.model import SpecError, validate_spec

QUEUE = {"name": "jobs", "handler": "workers.handlers.background_tasks", "jobs": [{"name": "run"}]}
SCHEDULE = {"name": "tick", "cron": "*/5 * * * *", "queue": "jobs", "jobName": "run"}
BASE = {"queues": [QUEUE], "schedules": [SCHEDULE], "maintenanceQueue": "jobs"}


def spec_with(**changes: Any) -> dict[str, Any]:
    """BASE with dotted-path changes, e.g. `**{"queues.0.attempts": 0}`."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        node: Any = data
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if last.isdigit() and int(last) == len(node):
            node.append(value)
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return data


REJECTED = [
    ("bad cron", {"schedules.0.cron": "61 * * * *"}, "schedules[0].cron", "invalid cron"),
    ("cron with 4 fields", {"schedules.0.cron": "* * * *"}, "schedules[0].cron", "4 fields"),
    (
        "bad timezone",
        {"schedules.0.timezone": "Mars/Olympus"},
        "schedules[0].timezone",
        "unknown IANA time zone",
    ),
    (
        "cron and every",
        {"schedules.0.everyMs": 5000},
        "schedules[0]",
        "exactly one of cron or everyMs",
    ),
    (
        "schedule to unknown queue",
        {"schedules.0.queue": "nope"},
        "schedules[0].queue",
        "unknown queue 'nope'",
    ),
    (
        "schedule to unknown job",
        {"schedules.0.jobName": "nope"},
        "schedules[0].jobName",
        "has no job 'nope'",
    ),
    ("duplicate queues", {"queues.1": QUEUE}, "queues", "duplicate names: jobs"),
    ("duplicate schedules", {"schedules.1": SCHEDULE}, "schedules", "duplicate names: tick"),
    (
        "queue name not DNS-1123",
        {"queues.0.name": "Jobs_1"},
        "queues[0].name",
        "not a DNS-1123 label",
    ),
    ("queue name too long", {"queues.0.name": "q" * 41}, "queues[0].name", "at most 40"),
    (
        "min above max",
        {"queues.0.autoscaling": {"minReplicas": 5, "maxReplicas": 2}},
        "queues[0].autoscaling",
        "minReplicas (5) exceeds maxReplicas (2)",
    ),
    (
        "zero without wake-up",
        {"queues.0.autoscaling": {"minReplicas": 0, "wakeOnDelayed": False}},
        "queues[0].autoscaling.minReplicas",
        "only a running worker promotes them",
    ),
    (
        "zero without KEDA",
        {"queues.0.autoscaling": {"minReplicas": 0}, "keda": {"enabled": False}},
        "queues[0].autoscaling.minReplicas",
        "KEDA is disabled",
    ),
    (
        "attempts below one",
        {"queues.0.attempts": 0},
        "queues[0].attempts",
        "greater than or equal to 1",
    ),
    (
        "timeout beyond grace",
        {"queues.0.jobTimeoutSeconds": 120, "queues.0.terminationGracePeriodSeconds": 60},
        "queues[0]",
        "jobTimeoutSeconds (120) must be below terminationGracePeriodSeconds (60)",
    ),
    (
        "LRU eviction",
        {"redis.maxmemoryPolicy": "allkeys-lru"},
        "redis.maxmemoryPolicy",
        "evicts job keys silently",
    ),
    (
        "volatile eviction",
        {"redis.maxmemoryPolicy": "volatile-ttl"},
        "redis.maxmemoryPolicy",
        "requires `noeviction`",
    ),
    (
        "placeholder image in prod",
        {"environment": "prod"},
        "image.repository",
        "is the placeholder 'ghcr.io/example/bullmq-platform'",
    ),
    (
        "placeholder image in staging, digest or not",
        {"environment": "staging", "image.digest": "sha256:" + "a" * 64},
        "image.repository",
        "only environment 'dev' may keep the placeholder",
    ),
    (
        "TLS off in prod",
        {"environment": "prod", "redis.tls.enabled": False},
        "redis.tls.enabled",
        "must be true for environment 'prod'",
    ),
    (
        "auth off in staging",
        {"environment": "staging", "redis.auth.enabled": False},
        "redis.auth.enabled",
        "must be true for environment 'staging'",
    ),
    (
        "no persistence in prod",
        {"environment": "prod", "redis.persistence.enabled": False},
        "redis.persistence.enabled",
        "must be true",
    ),
    (
        "typo in a key",
        {"queues.0.concurency": 5},
        "queues[0].concurency",
        "Extra inputs are not permitted",
    ),
    (
        "Bitnami image",
        {"redis.image.repository": "bitnami/redis"},
        "redis.image.repository",
        "Bitnami images left",
    ),
    (
        "maxmemory above limit",
        {"redis.maxmemory": "2gb", "redis.resources": {"memoryLimit": "1Gi"}},
        "redis",
        "must be below resources.memoryLimit",
    ),
    (
        "maxmemory without fork headroom",
        {"redis.maxmemory": "900mb", "redis.resources": {"memoryLimit": "1Gi"}},
        "redis",
        "by at least 20% (at most 819mb)",
    ),
    (
        "existingSecret source without name",
        {"redis.auth": {"source": "existingSecret"}},
        "redis.auth",
        "existingSecret is required",
    ),
    (
        "maintenance queue unknown",
        {"maintenanceQueue": "nope"},
        "maintenanceQueue",
        "'nope' is not in queues",
    ),
    (
        "duplicate job names",
        {"queues.0.jobs": [{"name": "run"}, {"name": "run"}]},
        "queues[0]",
        "duplicate job names: run",
    ),
    (
        "metricsApi without a scheduler",
        {"scheduler.replicas": 0},
        "scheduler.replicas",
        "must be at least 1: keda.scaler metricsApi reads",
    ),
    (
        "metricsApi without TLS",
        {"redis.tls.enabled": False},
        "redis.tls.enabled",
        "must be true with keda.scaler metricsApi",
    ),
    (
        "metricsApi without auth",
        {"redis.auth.enabled": False},
        "redis.auth.enabled",
        "must be true with keda.scaler metricsApi",
    ),
    (
        "failed jobs kept by age only (issue 25, 3b)",
        {"queues.0.removeOnFail": {"ageSeconds": 3600}},
        "queues[0].removeOnFail.count",
        "an age alone does not bound memory",
    ),
    (
        "retention that cannot fit in maxmemory (issue 25, 3b)",
        {"queues.0.deadLetter": {"maxEntries": 1_000_000}, "redis.maxmemory": "256mb"},
        "queues[0].deadLetter.maxEntries",
        "over 50% of redis.maxmemory 256mb",
    ),
    (
        "large payloads kept by the thousand (issue 25, 3b)",
        {"queues.0.typicalPayloadBytes": 200_000},
        "queues[0].removeOnFail.count",
        "retained jobs need about",
    ),
    (
        "two Sentinels in prod",
        {"environment": "prod", "redis.mode": "sentinel", "redis.sentinel.replicas": 1},
        "redis.sentinel.replicas",
        "needs at least 3 (replicas >= 2)",
    ),
    (
        "two external Sentinels in staging",
        {
            "environment": "staging",
            "redis.mode": "external",
            "redis.external.sentinel": {"addresses": ["s1:26379", "s2:26379"], "masterName": "m"},
        },
        "redis.external.sentinel.addresses",
        "2 Sentinels; environment 'staging' needs at least 3",
    ),
    (
        "quorum above the Sentinels",
        {"redis.mode": "sentinel", "redis.sentinel.quorum": 4},
        "redis.sentinel",
        "quorum 4 exceeds the 3 Sentinels",
    ),
    (
        "waitReplicas above the replicas",
        {"redis.mode": "sentinel", "redis.sentinel.waitReplicas": 3},
        "redis.sentinel",
        "waitReplicas 3 exceeds replicas 2",
    ),
    (
        "minReplicasToWrite above the replicas",
        {"redis.sentinel.minReplicasToWrite": 3},
        "redis.sentinel",
        "minReplicasToWrite 3 exceeds replicas 2",
    ),
    (
        "a replica lag that outlasts Sentinel's down-after (stale writes after a failover)",
        {
            "redis.sentinel.minReplicasMaxLagSeconds": 10,
            "redis.sentinel.downAfterMilliseconds": 3000,
        },
        "redis.sentinel",
        "minReplicasMaxLagSeconds 10",
    ),
    (
        "a replica lag with no slack under down-after",
        {
            "redis.sentinel.minReplicasMaxLagSeconds": 2,
            "redis.sentinel.downAfterMilliseconds": 3000,
        },
        "redis.sentinel",
        "raise downAfterMilliseconds above 3000",
    ),
    (
        "external Sentinels without a master name",
        {"redis.mode": "external", "redis.external.sentinel": {"addresses": ["s1:26379"]}},
        "redis.external.sentinel",
        "masterName is required",
    ),
    (
        "a Sentinel address without a port",
        {"redis.mode": "external", "redis.external.sentinel": {"addresses": ["s1"]}},
        "redis.external.sentinel.addresses[0]",
        "should match pattern",
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "field", "message"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_it_should_reject_with_the_field_named(
    case: str, changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        validate_spec(spec_with(**changes))
    problems = caught.value.problems
    assert any(path == field and message in text for path, text in problems), problems
    assert field in str(caught.value)


def test_it_should_accept_the_base_spec() -> None:
    spec = validate_spec(spec_with())
    assert [q.name for q in spec.queues] == ["jobs"]


def test_it_should_accept_every_problem_at_once_not_just_the_first() -> None:
    bad = spec_with(
        **{"schedules.0.queue": "nope", "environment": "prod", "redis.tls.enabled": False}
    )
    with pytest.raises(SpecError) as caught:
        validate_spec(bad)
    paths = {path for path, _ in caught.value.problems}
    assert {"schedules[0].queue", "redis.tls.enabled"} <= paths


def test_it_should_accept_a_real_image_repository_outside_dev() -> None:
    repository = "registry.acme.example/platform/bullmq-platform"
    spec = validate_spec(spec_with(environment="prod", **{"image.repository": repository}))
    assert spec.image.repository == repository


def test_it_should_allow_relaxed_security_in_dev_only() -> None:
    relaxed = {
        "redis.tls.enabled": False,
        "redis.auth.enabled": False,
        "redis.persistence.enabled": False,
        # The metricsApi scaler's endpoint needs the TLS and auth Secrets.
        "keda.scaler": "redis",
    }
    assert validate_spec(spec_with(environment="dev", **relaxed)).redis.tls.enabled is False


def test_it_should_allow_no_scheduler_with_the_plain_redis_scaler_or_without_keda() -> None:
    for keda in ({"scaler": "redis"}, {"enabled": False}):
        data = spec_with(**{"scheduler.replicas": 0, "keda": keda})
        data["queues"][0]["autoscaling"] = {"minReplicas": 1}
        assert validate_spec(data).scheduler.replicas == 0


def test_it_should_allow_zero_replicas_when_delayed_jobs_wake_the_queue() -> None:
    spec = validate_spec(spec_with(**{"queues.0.autoscaling": {"minReplicas": 0}}))
    assert spec.queues[0].autoscaling.min_replicas == 0
