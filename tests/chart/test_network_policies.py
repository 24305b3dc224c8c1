"""NetworkPolicy selectors match the pods they mean, and only those."""

from __future__ import annotations

from typing import Any

import pytest
from chart_rendering import default_values, named, objects

pytestmark = pytest.mark.helm


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _pod_labels(docs: list[dict], kind: str, name: str) -> dict[str, str]:
    return dict(named(docs, kind, name)["spec"]["template"]["metadata"]["labels"])


def _namespace_peers(rule: dict[str, Any]) -> list[dict[str, str]]:
    return [p["namespaceSelector"]["matchLabels"] for p in rule["from"] if "namespaceSelector" in p]


def test_it_should_let_only_platform_pods_keda_and_clients_reach_redis() -> None:
    """keda.scaler redis: KEDA's operator reads key lengths, so its namespace reaches Redis."""
    docs = objects(default_values(**{"keda.scaler": "redis"}))
    policy = named(docs, "NetworkPolicy", "bullmq-platform-redis")["spec"]
    redis = _pod_labels(docs, "StatefulSet", "bullmq-platform-redis")
    worker = _pod_labels(docs, "Deployment", "bullmq-platform-worker-notifications")
    scheduler = _pod_labels(docs, "Deployment", "bullmq-platform-scheduler")
    assert _matches(policy["podSelector"], redis)
    assert not _matches(policy["podSelector"], worker)
    redis_rule, metrics_rule = policy["ingress"]
    pod_peers = [p["podSelector"] for p in redis_rule["from"] if "podSelector" in p]
    assert any(_matches(s, worker) for s in pod_peers)
    assert any(_matches(s, scheduler) for s in pod_peers)
    assert any(_matches(s, {"bullmq-platform/redis-client": "true"}) for s in pod_peers)
    assert not any(_matches(s, {"app": "anything-else"}) for s in pod_peers)
    assert _namespace_peers(redis_rule) == [{"kubernetes.io/metadata.name": "keda"}]
    assert [p["port"] for p in redis_rule["ports"]] == ["redis"]
    assert metrics_rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert [p["port"] for p in metrics_rule["ports"]] == ["metrics"]


def test_it_should_expose_runtime_metrics_only_to_monitoring() -> None:
    docs = objects(default_values())
    policy = named(docs, "NetworkPolicy", "bullmq-platform-runtime")["spec"]
    assert _matches(
        policy["podSelector"], _pod_labels(docs, "Deployment", "bullmq-platform-scheduler")
    )
    assert not _matches(
        policy["podSelector"], _pod_labels(docs, "StatefulSet", "bullmq-platform-redis")
    )
    (rule,) = policy["ingress"]
    assert [p["port"] for p in rule["ports"]] == ["http"]


def test_it_should_keep_keda_away_from_redis_when_it_asks_the_scheduler() -> None:
    """keda.scaler metricsApi (the default): KEDA never talks to Redis, so no namespace may."""
    docs = objects(default_values())
    redis_rule, _ = named(docs, "NetworkPolicy", "bullmq-platform-redis")["spec"]["ingress"]
    assert _namespace_peers(redis_rule) == []


def _admits(rule: dict[str, Any], pod: dict[str, str], namespace: str, own: str) -> bool:
    """Kubernetes' peer semantics: podSelector alone means the policy's own namespace;
    namespaceSelector alone, every pod there; both in one peer, pods matching both."""
    ns_labels = {"kubernetes.io/metadata.name": namespace}
    for peer in rule["from"]:
        ns_ok = (
            _matches(peer["namespaceSelector"], ns_labels)
            if "namespaceSelector" in peer
            else namespace == own
        )
        pod_ok = _matches(peer["podSelector"], pod) if "podSelector" in peer else True
        if ns_ok and pod_ok:
            return True
    return False


def test_it_should_admit_labelled_producers_of_exactly_the_named_namespaces() -> None:
    values = default_values(**{"networkPolicies.clientNamespaces": ["shop", "billing"]})
    own = values["namespace"]
    policy = named(objects(values), "NetworkPolicy", "bullmq-platform-redis")["spec"]
    redis_rule = policy["ingress"][0]
    client = {"bullmq-platform/redis-client": "true", "app": "checkout"}
    for namespace in ("shop", "billing", own):
        assert _admits(redis_rule, client, namespace, own), namespace
        assert not _admits(redis_rule, {"app": "checkout"}, namespace, own), namespace
    for namespace in ("other", "keda", "kube-system"):
        assert not _admits(redis_rule, client, namespace, own), namespace


def test_it_should_admit_no_other_namespace_by_default() -> None:
    values = default_values()
    policy = named(objects(values), "NetworkPolicy", "bullmq-platform-redis")["spec"]
    client = {"bullmq-platform/redis-client": "true"}
    assert _admits(policy["ingress"][0], client, values["namespace"], values["namespace"])
    assert not _admits(policy["ingress"][0], client, "shop", values["namespace"])
