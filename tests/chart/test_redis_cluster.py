"""redis.mode cluster: a StatefulSet of shards x (1 + replicas) nodes that form the
cluster themselves (no Helm hook, no Job), TLS on client and bus ports, ACL users,
PDB, anti-affinity, hash-tagged keys in the KEDA triggers, cluster env in runtimes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from chart_rendering import containers, named, objects, of_kind, pod_spec, stack_values

pytestmark = pytest.mark.helm
REDIS = "bullmq-platform-redis"


def _values(**redis: Any) -> dict[str, Any]:
    values = copy.deepcopy(stack_values("prod+cluster"))
    values["redis"].setdefault("cluster", {}).update(redis)
    return values


def test_it_should_run_shards_times_one_plus_replicas_nodes_in_parallel() -> None:
    docs = objects(_values(shards=5, replicasPerShard=2))
    sts = named(docs, "StatefulSet", REDIS)
    assert sts["spec"]["replicas"] == 15
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    spec = pod_spec(sts)
    assert spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    (redis,) = [c for c in spec["containers"] if c["name"] == "redis"]
    assert {p["name"]: p["containerPort"] for p in redis["ports"]} == {"redis": 6379, "bus": 16379}
    (boot,) = [c for c in spec["containers"] if c["name"] == "cluster-bootstrap"]
    env = {e["name"]: e.get("value") for e in boot["env"]}
    peers = env["PEERS"].split()
    assert len(peers) == 15 and peers[0].startswith(f"{REDIS}-0.{REDIS}-headless.")
    assert env["SELF"].startswith("$(POD_NAME).") and env["REPLICAS"] == "2"


def test_it_should_form_the_cluster_without_hooks_or_jobs() -> None:
    docs = objects(stack_values("prod+cluster"))
    assert not of_kind(docs, "Job")
    for doc in docs:
        annotations = doc["metadata"].get("annotations") or {}
        assert "helm.sh/hook" not in annotations, doc["metadata"]["name"]


def test_it_should_enable_cluster_mode_over_tls_with_a_cluster_user() -> None:
    data = named(objects(stack_values("prod+cluster")), "ConfigMap", f"{REDIS}-config")["data"]
    lines = data["redis.conf"].splitlines()
    for line in ("cluster-enabled yes", "tls-cluster yes", "tls-replication yes", "port 0"):
        assert line in lines
    assert "masteruser cluster" in lines
    assert not any(line.startswith("masterauth") for line in lines)  # from the Secret at start
    rules = {line.split()[0]: line for line in data["acl.rules"].splitlines() if line[:1].isalpha()}
    assert "+migrate" in rules["cluster"] and "+psync" in rules["cluster"]
    assert "+cluster|slots" in rules["worker"] and "+asking" in rules["worker"]
    assert "redis-cluster-bootstrap.sh" in data


def test_it_should_mount_the_cluster_password_and_keep_a_pdb() -> None:
    docs = objects(stack_values("prod+cluster"))
    sts = named(docs, "StatefulSet", REDIS)
    (passwords,) = [v for v in pod_spec(sts)["volumes"] if v["name"] == "passwords"]
    paths = {i["path"] for i in passwords["secret"]["items"]}
    assert "cluster" in paths
    assert named(docs, "PodDisruptionBudget", REDIS)["spec"]["maxUnavailable"] == 1
    headless = named(docs, "Service", f"{REDIS}-headless")
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert {p["name"] for p in headless["spec"]["ports"]} == {"redis", "bus"}


def test_it_should_scale_on_hash_tagged_keys_with_redis_cluster_triggers() -> None:
    values = _values(tagGroups=[{"tag": "flows", "queues": ["workflow-orchestration"]}])
    values.setdefault("keda", {})["scaler"] = "redis"
    docs = objects(values)
    scaled = named(docs, "ScaledObject", "bullmq-platform-worker-workflow-orchestration")
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"redis-cluster"}
    names = {t["metadata"]["listName"] for t in triggers}
    assert "bull:{flows}:workflow-orchestration:wait" in names
    assert all("addresses" in t["metadata"] for t in triggers)


def test_it_should_tell_every_runtime_it_talks_to_a_cluster() -> None:
    docs = objects(stack_values("prod+cluster"))
    for deployment in of_kind(docs, "Deployment"):
        for container in containers(deployment):
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if "BULLMQ_PLATFORM_REDIS_HOST" in env:
                assert env.get("BULLMQ_PLATFORM_REDIS_CLUSTER") == "true"


def test_it_should_render_a_flow_whose_queues_share_a_tag_group() -> None:
    queues = ["agent-execution", "workflow-orchestration"]
    values = _values(
        tagGroups=[{"tag": "agents", "queues": queues}],
        flows=[{"name": "agents", "queues": queues}],
    )
    assert named(objects(values), "StatefulSet", REDIS)  # no VALUES VALIDATION failure
