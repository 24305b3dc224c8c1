"""redis.mode sentinel: a primary, replicas and a Sentinel beside each, TLS on every port."""

from __future__ import annotations

from typing import Any

import pytest
from chart_rendering import default_values, named, objects, of_kind, pod_spec, stack_values

pytestmark = pytest.mark.helm
REDIS = "bullmq-platform-redis"
HEADLESS = f"{REDIS}-headless"


def sentinel_values(**changes: Any) -> dict[str, Any]:
    return default_values(**{"redis.mode": "sentinel", **changes})


def test_it_should_run_a_sentinel_beside_each_of_three_redis_pods() -> None:
    sts = named(objects(sentinel_values()), "StatefulSet", REDIS)
    assert sts["spec"]["replicas"] == 3
    spec = pod_spec(sts)
    containers = {c["name"]: c for c in spec["containers"]}
    assert {"redis", "sentinel"} <= set(containers)
    assert containers["sentinel"]["ports"] == [
        {"name": "sentinel", "containerPort": 26379, "protocol": "TCP"}
    ]
    assert containers["redis"]["command"][-2:] == ["--include", "/etc/redis/node/replication.conf"]
    node = next(v for v in spec["volumes"] if v["name"] == "node")
    assert node["emptyDir"]["medium"] == "Memory"  # masterauth / auth-pass live there
    (init,) = spec["initContainers"]
    script = init["command"][2]
    assert (
        f'sentinel-node.sh /etc/redis/conf /etc/redis/passwords "$(hostname).{HEADLESS}' in script
    )
    assert f"{REDIS}-0.{HEADLESS}.bullmq.svc.cluster.local 6379" in script
    # Before defaulting to pod 0, the init asks the other pods' Sentinels (TLS) for the
    # primary, and an empty would-be primary asks the data nodes; all pods start at once.
    env = {e["name"]: e["value"] for e in init["env"]}
    pods = [f"{REDIS}-{i}.{HEADLESS}.bullmq.svc.cluster.local" for i in range(3)]
    assert env["SENTINEL_PEERS"] == " ".join(f"{p}:26379" for p in pods)
    assert env["PEER_NODES"] == " ".join(f"{p}:6379" for p in pods)
    assert env["TLS_CA"].endswith("/ca.crt") and env["DATA_DIR"]
    mounts = {m["name"]: m for m in init["volumeMounts"]}
    assert mounts["data"]["readOnly"] and mounts["tls"]["readOnly"]
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    items = {
        i["path"]
        for i in next(v for v in spec["volumes"] if v["name"] == "passwords")["secret"]["items"]
    }
    assert {"replication", "sentinel"} <= items


def test_it_should_be_tls_only_on_data_replication_and_sentinel_ports() -> None:
    data = named(objects(sentinel_values()), "ConfigMap", f"{REDIS}-config")["data"]
    conf = data["redis.conf"].splitlines()
    assert {"port 0", "tls-port 6379", "tls-replication yes", "masteruser replication"} <= set(conf)
    assert "min-replicas-to-write 1" in conf and "min-replicas-max-lag 2" in conf
    sentinel = data["sentinel.conf"].splitlines()
    assert {"port 0", "tls-port 26379", "tls-replication yes"} <= set(sentinel)
    assert "sentinel monitor bullmq PRIMARY_HOST PRIMARY_PORT 2" in sentinel
    assert "sentinel down-after-milliseconds bullmq 5000" in sentinel
    assert "sentinel failover-timeout bullmq 10000" in sentinel
    assert "sentinel auth-user bullmq sentinel" in sentinel
    assert "sentinel announce-hostnames yes" in sentinel
    # secrets are added in the pod (sentinel-node.sh), never rendered
    secret_directives = (
        "masterauth",
        "requirepass",
        "sentinel auth-pass",
        "sentinel sentinel-pass",
    )
    assert not any(line.startswith(secret_directives) for line in conf + sentinel)
    rules = data["acl.rules"].splitlines()
    assert any(r.startswith("replication -@all +psync +replconf") for r in rules)
    assert any(r.startswith("sentinel -@all") and "+replicaof" in r for r in rules)


def test_it_should_spread_pods_softly_by_default_and_hard_when_asked() -> None:
    soft = pod_spec(named(objects(sentinel_values()), "StatefulSet", REDIS))["affinity"]
    assert soft["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    hard_values = sentinel_values(**{"redis.sentinel": {"antiAffinity": "hard"}})
    hard = pod_spec(named(objects(hard_values), "StatefulSet", REDIS))["affinity"]
    (term,) = hard["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"


def test_it_should_name_the_sentinel_service_and_keep_a_pdb() -> None:
    docs = objects(sentinel_values())
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    assert REDIS not in services, "no client Service in front of replicas and primary alike"
    assert services[f"{REDIS}-sentinel"]["spec"]["ports"][0]["port"] == 26379
    assert {p["name"] for p in services[HEADLESS]["spec"]["ports"]} == {"redis", "sentinel"}
    assert named(docs, "PodDisruptionBudget", REDIS)["spec"]["maxUnavailable"] == 1


def test_it_should_point_clients_at_every_sentinel() -> None:
    docs = objects(sentinel_values())
    scheduler = next(
        d for d in of_kind(docs, "Deployment") if d["metadata"]["name"].endswith("scheduler")
    )
    env = {e["name"]: e.get("value") for e in pod_spec(scheduler)["containers"][0]["env"]}
    hosts = env["BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS"].split(",")
    assert hosts == [f"{REDIS}-{i}.{HEADLESS}.bullmq.svc.cluster.local:26379" for i in range(3)]
    assert env["BULLMQ_PLATFORM_REDIS_SENTINEL_MASTER"] == "bullmq"
    assert env["BULLMQ_PLATFORM_REDIS_SENTINEL_USERNAME"] == "scheduler"


def test_it_should_scale_with_the_redis_sentinel_trigger_in_redis_scaler_mode() -> None:
    values = stack_values("prod+sentinel")
    values.setdefault("keda", {})["scaler"] = "redis"
    docs = objects(values)
    triggers = [t for so in of_kind(docs, "ScaledObject") for t in so["spec"]["triggers"]]
    assert triggers and all(t["type"] == "redis-sentinel" for t in triggers)
    assert all(t["metadata"]["sentinelMaster"] == "bullmq" for t in triggers)
    auth = of_kind(docs, "TriggerAuthentication")[0]["spec"]
    params = {r["parameter"] for r in auth["secretTargetRef"] + auth["configMapTargetRef"]}
    assert {"sentinelUsername", "sentinelPassword", "username", "password", "tls"} <= params


def test_it_should_admit_sentinel_traffic_between_redis_pods() -> None:
    docs = objects(sentinel_values(**{"networkPolicies.enabled": True}))
    policy = named(docs, "NetworkPolicy", REDIS)
    ports = [{p["port"] for p in rule["ports"]} for rule in policy["spec"]["ingress"]]
    assert {"redis", "sentinel"} in ports


def test_it_should_let_the_reloader_rotate_the_sentinel_passwords_live() -> None:
    """The reloader sidecar reaches the Sentinel beside it, knows every peer (a new
    password is switched to once all take it) and may rewrite masterauth; the Sentinel
    seeds a `reloader` user from the pod-local password (files/sentinel-acl.sh)."""
    docs = objects(
        sentinel_values(**{"dashboard.enabled": True, "dashboard.auth.existingSecret": "d"})
    )
    sts = named(docs, "StatefulSet", REDIS)
    spec = sts["spec"]["template"]["spec"]
    reloader = {c["name"]: c for c in spec["containers"]}["reloader"]
    env = {e["name"]: e.get("value") for e in reloader["env"]}
    pods = [f"{REDIS}-{i}.{HEADLESS}.bullmq.svc.cluster.local" for i in range(3)]
    assert env["SENTINEL_PORT"] == "26379"
    assert env["SENTINEL_MASTER"] == "bullmq"
    assert env["PEER_NODES"] == " ".join(f"{p}:6379" for p in pods)
    assert env["SENTINEL_PEERS"] == " ".join(f"{p}:26379" for p in pods)
    assert env["SENTINEL_CLIENT_USERS"] == "worker scheduler keda exporter dashboard"
    assert env["NODE_CONF"] == "/etc/redis/node/replication.conf"
    mounts = {m["name"]: m for m in reloader["volumeMounts"]}
    assert mounts["node"]["mountPath"] == "/etc/redis/node"
    assert not mounts["node"].get("readOnly")
    (init,) = spec["initContainers"]
    init_env = {e["name"]: e.get("value") for e in init["env"]}
    assert init_env["RELOADER_PASSWORD_FILE"] == "/etc/redis/acl/local/reloader"
    data = named(docs, "ConfigMap", f"{REDIS}-config")["data"]
    assert "sentinel-acl.sh" in data
    assert 'sh "$conf/sentinel-acl.sh"' in data["sentinel-node.sh"]
    assert "+acl|setuser" not in data["sentinel.conf"]  # users are added in the pod


def test_it_should_point_the_dashboard_at_the_sentinels() -> None:
    """The dashboard gets the Sentinel env every client gets (and follows the primary:
    tests/sentinel/test_it_should_connect_the_dashboard_to_the_primary.py)."""
    docs = objects(
        sentinel_values(**{"dashboard.enabled": True, "dashboard.auth.existingSecret": "d"})
    )
    dashboard = named(docs, "Deployment", "bullmq-platform-dashboard")
    (container,) = dashboard["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    pods = [f"{REDIS}-{i}.{HEADLESS}.bullmq.svc.cluster.local" for i in range(3)]
    assert env["BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS"] == ",".join(f"{p}:26379" for p in pods)
    assert env["BULLMQ_PLATFORM_REDIS_SENTINEL_MASTER"] == "bullmq"
    assert env["BULLMQ_PLATFORM_REDIS_SENTINEL_USERNAME"] == "dashboard"
