"""Nodes can drain and scale down (README "Node drains"): PDBs, safe-to-evict, spreading."""

from __future__ import annotations

import pytest
from chart_rendering import default_values, named, objects, of_kind, pod_spec

from platform_spec.model import PlatformSpec

pytestmark = pytest.mark.helm
REDIS = "bullmq-platform-redis"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"


def _workloads(docs: list[dict]) -> list[dict]:
    return [d for d in of_kind(docs, "Deployment")] + of_kind(docs, "StatefulSet")


def test_it_should_let_a_drain_evict_the_single_redis_by_default() -> None:
    pdb = named(objects(default_values()), "PodDisruptionBudget", REDIS)["spec"]
    assert pdb == {**pdb, "maxUnavailable": 1} and "minAvailable" not in pdb
    strict = named(
        objects(default_values(**{"redis.pdbMaxUnavailable": 0})), "PodDisruptionBudget", REDIS
    )
    assert strict["spec"]["maxUnavailable"] == 0


def test_it_should_refuse_eviction_only_to_workers_whose_jobs_outlast_it() -> None:
    """safe-to-evict "false" exactly where the grace period exceeds evictionGraceSeconds."""
    spec = PlatformSpec()
    for limit in (600, 60, 100_000):
        docs = objects(default_values(**{"scheduling.evictionGraceSeconds": limit}))
        for queue in spec.queues:
            worker = named(docs, "Deployment", f"bullmq-platform-worker-{queue.name}")
            annotations = worker["spec"]["template"]["metadata"]["annotations"]
            pinned = annotations.get(SAFE_TO_EVICT) == "false"
            assert pinned is (queue.grace_period_seconds > limit), (limit, queue.name)
    pinned_at_600 = [q.name for q in spec.queues if q.grace_period_seconds > 600]
    assert len(pinned_at_600) < len(spec.queues), "the defaults must free some nodes"


def test_it_should_spread_replicas_softly_over_nodes_by_default() -> None:
    docs = objects(default_values())
    spread = [d for d in of_kind(docs, "Deployment")]
    assert len(spread) == len(PlatformSpec().queues) + 1  # the workers and the scheduler
    for deployment in spread:
        (constraint,) = pod_spec(deployment)["topologySpreadConstraints"]
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
        assert constraint["topologyKey"] == "kubernetes.io/hostname"
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert constraint["labelSelector"]["matchLabels"] == selector  # only its own replicas


@pytest.mark.parametrize(("mode", "expected"), [("hard", "DoNotSchedule"), ("off", None)])
def test_it_should_follow_the_spread_mode(mode: str, expected: str | None) -> None:
    docs = objects(default_values(**{"scheduling.topologySpread": mode}))
    for deployment in of_kind(docs, "Deployment"):
        constraints = pod_spec(deployment).get("topologySpreadConstraints")
        got = constraints[0]["whenUnsatisfiable"] if constraints else None
        assert got == expected


def test_it_should_set_the_priority_class_on_every_workload_when_asked() -> None:
    docs = objects(default_values())
    assert not any("priorityClassName" in pod_spec(w) for w in _workloads(docs))
    docs = objects(default_values(**{"scheduling.priorityClassName": "platform-critical"}))
    assert {pod_spec(w).get("priorityClassName") for w in _workloads(docs)} == {"platform-critical"}
