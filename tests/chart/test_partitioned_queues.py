"""A partitioned queue (`queues[].partitions`) in the chart: KEDA's redis triggers read
every partition's keys (hash-tagged per partition on a cluster) and sum them into one
queue's backlog; redis_exporter and the backlog alert see every partition; one worker
Deployment and one ScaledObject per queue, as before."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from chart_rendering import PARTITIONED, named, objects, of_kind, partition, stack_values

pytestmark = pytest.mark.helm
QUEUE = str(PARTITIONED["queue"])
K = int(PARTITIONED["partitions"])
WORKER = f"bullmq-platform-worker-{QUEUE}"


def _values(stack: str, scaler: str = "redis") -> dict[str, Any]:
    values = copy.deepcopy(stack_values(stack))
    if stack == "prod":
        partition(values, QUEUE, K)
    values.setdefault("keda", {})["scaler"] = scaler
    return values


@pytest.mark.parametrize(
    ("stack", "trigger", "prefix"),
    [("prod", "redis", "bull:{q}"), ("prod+cluster", "redis-cluster", "bull:{{{q}}}:{q}")],
)
def test_it_should_trigger_on_every_partition_and_sum_them(
    stack: str, trigger: str, prefix: str, crd_validate: Any
) -> None:
    docs = objects(_values(stack))
    scaled = named(docs, "ScaledObject", WORKER)
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {trigger}
    lists = {t["name"]: t["metadata"]["listName"] for t in triggers}
    for i in range(K):
        part = f"{QUEUE}-p{i}"
        for suffix in ("wait", "prioritized", "active", "delayed"):
            assert lists[f"{suffix}_{i}"] == f"{prefix.format(q=part)}:{suffix}"
    assert len(triggers) == 4 * K
    formula = scaled["spec"]["advanced"]["scalingModifiers"]["formula"]
    assert formula.startswith("wait_0 + prioritized_0 + active_0 + wait_1")
    assert formula.endswith("(delayed_0 + delayed_1 + delayed_2 > 0 ? 1 : 0)")
    # Other queues keep their plain trigger names; still one worker per queue.
    other = named(docs, "ScaledObject", "bullmq-platform-worker-background-tasks")
    assert {t["name"] for t in other["spec"]["triggers"]} >= {"wait", "active"}
    assert len([d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == WORKER]) == 1
    failures = [r for r in crd_validate([scaled]) if r["error"]]
    assert not failures, failures


def test_it_should_export_and_alert_on_every_partition() -> None:
    values = _values("prod")
    values["monitoring"].update(serviceMonitor=True, prometheusRule=True)
    docs = objects(values)
    text = str(docs)
    for i in range(K):
        assert f"db0=bull:{QUEUE}-p{i}:wait" in text
    rules = named(docs, "PrometheusRule", "bullmq-platform")["spec"]["groups"]
    exprs = [
        r["expr"] for g in rules for r in g["rules"] if r.get("labels", {}).get("queue") == QUEUE
    ]
    assert any(f"bull:{QUEUE}-p[0-9]+:(wait|prioritized)" in e for e in exprs), exprs


def test_it_should_keep_metrics_api_scaling_on_the_queue() -> None:
    docs = objects(_values("prod+cluster", scaler="metricsApi"))
    (trigger,) = named(docs, "ScaledObject", WORKER)["spec"]["triggers"]
    assert trigger["metadata"]["url"].endswith(f"/scaling/{QUEUE}")
