"""Redis Cluster mode in the spec: shards, hash-tagged prefixes, flows that must not cross slots."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from platform_spec.keys import hash_tagged_prefix
from platform_spec.model import PlatformSpec, SpecError, validate_spec
from platform_spec.settings import RedisSettings
from workers.connection import is_cluster
from workers.engine_factory import pick_engine
from workers.replication_ack import spec_wait_policy

QUEUES = [
    {"name": n, "handler": "workers.handlers.background_tasks", "jobs": [{"name": "run"}]}
    for n in ("orders", "payments", "emails")
]


def cluster_spec(**cluster: Any) -> dict[str, Any]:
    return {
        "queues": QUEUES,
        "schedules": [],
        "maintenanceQueue": "orders",
        "redis": {"mode": "cluster", "cluster": cluster},
    }


def test_it_should_default_to_three_shards_with_one_replica_each() -> None:
    spec = validate_spec(cluster_spec())
    assert (spec.redis.cluster.shards, spec.redis.cluster.replicas_per_shard) == (3, 1)
    assert spec.redis.cluster.nodes == 6
    assert spec.redis.is_cluster


def test_it_should_give_each_queue_and_its_dlq_its_own_tag() -> None:
    spec = validate_spec(cluster_spec())
    assert spec.queue_prefix("orders") == "bull:{orders}"
    assert spec.queue_prefix("orders-dlq") == "bull:{orders}"
    assert spec.queue_keys("payments").wait == "bull:{payments}:payments:wait"
    assert spec.queue_prefix("ad-hoc") == hash_tagged_prefix("bull", "ad-hoc")


def test_it_should_share_a_tag_within_a_group() -> None:
    spec = validate_spec(
        cluster_spec(
            tagGroups=[{"tag": "checkout", "queues": ["orders", "payments"]}],
            flows=[{"name": "checkout", "queues": ["orders", "payments"]}],
        )
    )
    assert spec.queue_prefix("payments") == spec.queue_prefix("orders") == "bull:{checkout}"
    assert spec.queue_prefix("emails") == "bull:{emails}"


def test_it_should_keep_the_plain_prefix_outside_cluster_mode() -> None:
    spec = PlatformSpec()
    assert not spec.redis.is_cluster
    assert spec.queue_prefix(spec.queues[0].name) == spec.key_prefix


def test_it_should_accept_a_managed_cluster_endpoint() -> None:
    spec = validate_spec(
        {"redis": {"mode": "external", "external": {"host": "redis.example", "cluster": True}}}
    )
    assert spec.redis.is_cluster
    assert spec.queue_prefix("notifications") == "bull:{notifications}"


REJECTED = [
    (
        "flow across slots",
        {"flows": [{"name": "checkout", "queues": ["orders", "payments"]}]},
        "redis.cluster.flows[0].queues",
        "crosses hash slots",
    ),
    (
        "flow on an unknown queue",
        {"flows": [{"name": "x", "queues": ["orders", "nope"]}]},
        "redis.cluster.flows[0].queues",
        "unknown queues: ['nope']",
    ),
    (
        "group with an unknown queue",
        {"tagGroups": [{"tag": "g", "queues": ["nope"]}]},
        "redis.cluster.tagGroups[0].queues",
        "unknown queues",
    ),
    (
        "queue in two groups",
        {"tagGroups": [{"tag": "a", "queues": ["orders"]}, {"tag": "b", "queues": ["orders"]}]},
        "redis.cluster",
        "more than one group",
    ),
    ("a brace in a tag", {"tagGroups": [{"tag": "a}", "queues": ["orders"]}]}, "tag", "pattern"),
    ("two shards", {"shards": 2}, "redis.cluster.shards", "greater than or equal to 3"),
    (
        "waitReplicas above the replicas",
        {"replicasPerShard": 1, "waitReplicas": 2},
        "redis.cluster",
        "waitReplicas 2 exceeds replicasPerShard 1",
    ),
]


@pytest.mark.parametrize(
    ("cluster", "field", "words"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_it_should_refuse_naming_the_field(cluster: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_spec(cluster_spec(**cluster))
    assert any(field in path and words in msg for path, msg in info.value.problems), (
        info.value.problems
    )


@pytest.mark.parametrize(
    ("environment", "cluster", "policy"),
    [
        ("prod", {}, (1, 1000)),
        ("dev", {}, (0, 0)),
        ("prod", {"replicasPerShard": 0}, (0, 0)),
        ("staging", {"waitReplicas": 1, "waitTimeoutMilliseconds": 250}, (1, 250)),
        ("prod", {"waitReplicas": 0}, (0, 0)),
    ],
)
def test_it_should_wait_for_a_replica_of_the_shard_outside_dev(
    environment: str, cluster: dict[str, Any], policy: tuple[int, int]
) -> None:
    image = {"repository": "ghcr.io/acme/platform", "digest": "sha256:" + "a" * 64}
    spec = validate_spec({**cluster_spec(**cluster), "environment": environment, "image": image})
    assert spec_wait_policy(spec) == policy


def test_it_should_check_flows_only_in_cluster_mode() -> None:
    data = cluster_spec(flows=[{"name": "checkout", "queues": ["orders", "payments"]}])
    data["redis"]["mode"] = "in-cluster"
    validate_spec(data)


@pytest.mark.parametrize(
    ("requested", "cluster", "expected"),
    [
        (None, False, "fast"),
        (None, True, "fast"),
        ("stock", True, "stock"),
        ("fast", True, "fast"),
        ("fast", False, "fast"),
    ],
)
def test_it_should_run_either_engine_on_a_cluster(
    requested: str | None, cluster: bool, expected: str
) -> None:
    assert pick_engine(requested, cluster) == expected


def test_it_should_mark_cluster_kwargs_and_keep_the_password_out_of_describe() -> None:
    settings = RedisSettings(host="r", password=SecretStr("s3cret"), tls=False, cluster=True)
    assert is_cluster(settings.redis_kwargs())
    assert "s3cret" not in settings.describe() and settings.describe().endswith("(cluster)")
    assert not is_cluster(RedisSettings(host="r", tls=False).redis_kwargs())
