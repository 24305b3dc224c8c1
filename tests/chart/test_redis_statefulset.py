"""The in-cluster Redis: TLS only, ACL from Secret files, AOF + RDB on a PVC, noeviction."""

from __future__ import annotations

import pytest
from chart_rendering import default_values, named, objects, pod_spec, stack_values

from platform_spec.chart import CHART_DIR

pytestmark = pytest.mark.helm
REDIS = "bullmq-platform-redis"


def _conf(values: dict) -> str:
    return str(named(objects(values), "ConfigMap", f"{REDIS}-config")["data"]["redis.conf"])


def test_it_should_listen_on_tls_only() -> None:
    lines = _conf(stack_values("prod")).splitlines()
    assert "port 0" in lines
    assert "tls-port 6379" in lines
    assert "tls-auth-clients no" in lines


def test_it_should_never_evict_and_persist_with_aof_and_rdb() -> None:
    lines = _conf(stack_values("prod")).splitlines()
    assert "maxmemory-policy noeviction" in lines
    assert "maxmemory 3gb" in lines
    assert "appendonly yes" in lines
    assert "appendfsync always" in lines  # prod's value, from Pulumi.prod.yaml
    assert any(line.startswith("save 3600 1") for line in lines)


def test_it_should_keep_data_on_the_claim_it_runs_in() -> None:
    sts = named(objects(stack_values("prod")), "StatefulSet", REDIS)
    (redis,) = [c for c in pod_spec(sts)["containers"] if c["name"] == "redis"]
    data = next(m for m in redis["volumeMounts"] if m["name"] == "data")
    assert redis["workingDir"] == data["mountPath"]  # redis.conf says `dir ./`
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "premium-rwo"


def test_it_should_assemble_the_acl_file_from_one_secret_file_per_user() -> None:
    sts = named(objects(default_values()), "StatefulSet", REDIS)
    spec = pod_spec(sts)
    (init,) = spec["initContainers"]
    assert "assemble-acl.sh" in " ".join(init["command"])
    assert init["command"][:2] == ["sh", "-ec"]  # a failing step fails the init container
    passwords = next(v for v in spec["volumes"] if v["name"] == "passwords")["secret"]
    assert passwords["secretName"] == "auth"
    # Optional, so the `-previous` keys may be absent; assemble-acl.sh checks the current ones.
    assert passwords["optional"] is True
    items = {i["path"]: i["key"] for i in passwords["items"]}
    roles = ("worker", "scheduler", "keda", "exporter")
    assert items == {
        **{role: f"{role}-password" for role in roles},
        **{f"previous/{role}": f"{role}-password-previous" for role in roles},
    }
    acl = next(v for v in spec["volumes"] if v["name"] == "acl")
    assert acl["emptyDir"]["medium"] == "Memory"


def test_it_should_add_the_admin_user_only_when_asked() -> None:
    docs = objects(default_values(**{"redis.auth.adminEnabled": True}))
    rules = named(docs, "ConfigMap", f"{REDIS}-config")["data"]["acl.rules"]
    assert any(line.startswith("admin ") for line in rules.splitlines())
    spec = pod_spec(named(docs, "StatefulSet", REDIS))
    items = next(v for v in spec["volumes"] if v["name"] == "passwords")["secret"]["items"]
    assert {"key": "admin-password", "path": "admin"} in items
    default_rules = named(objects(default_values()), "ConfigMap", f"{REDIS}-config")["data"]
    assert not any(line.startswith("admin ") for line in default_rules["acl.rules"].splitlines())


def test_it_should_probe_over_tls_with_the_pod_local_password_from_a_file() -> None:
    sts = named(objects(default_values()), "StatefulSet", REDIS)
    (redis,) = [c for c in pod_spec(sts)["containers"] if c["name"] == "redis"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "redis-probe.sh" in " ".join(redis[probe]["exec"]["command"])
    script = (CHART_DIR / "files" / "redis-probe.sh").read_text()
    # Not the Secret's password: a rotation must never fail the probe (restart loop).
    assert "/etc/redis/acl/local/exporter" in script
    assert 'REDISCLI_AUTH=$(cat "$pwfile")' in script
    assert "--tls --cacert" in script
    assert " -a " not in script and "--pass" not in script


def test_it_should_pin_the_image_by_digest_when_given() -> None:
    digest = "sha256:" + "a" * 64
    values = default_values(**{"redis.image.digest": digest})
    sts = named(objects(values), "StatefulSet", REDIS)
    images = {c["image"] for c in pod_spec(sts)["containers"] if c["name"] == "redis"}
    assert images == {f"redis@{digest}"}


def test_it_should_render_no_redis_in_external_mode() -> None:
    values = default_values(**{"redis.mode": "external", "redis.external.host": "r.example.com"})
    docs = objects(values)
    assert not [
        d
        for d in docs
        if d["kind"] in ("StatefulSet", "Service", "PodDisruptionBudget")
        and d["metadata"]["name"].startswith(REDIS)
    ]
    worker = next(
        d for d in docs if d["kind"] == "Deployment" and "-worker-" in d["metadata"]["name"]
    )
    env = {e["name"]: e.get("value") for e in pod_spec(worker)["containers"][0]["env"]}
    assert env["BULLMQ_PLATFORM_REDIS_HOST"] == "r.example.com"


def test_it_should_protect_redis_with_a_pdb_selecting_its_pod() -> None:
    docs = objects(default_values())
    pdb = named(docs, "PodDisruptionBudget", REDIS)
    labels = named(docs, "StatefulSet", REDIS)["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert (
        pdb["spec"]["maxUnavailable"] == 1
    )  # a drain may move it (tests/chart/test_node_drains.py)


def test_it_should_run_a_reloader_beside_redis_that_sees_secret_updates() -> None:
    """Rotated passwords and renewed certificates reach Redis without a restart."""
    spec = pod_spec(named(objects(default_values()), "StatefulSet", REDIS))
    (reloader,) = [c for c in spec["containers"] if c["name"] == "reloader"]
    assert "redis-reloader.sh" in " ".join(reloader["command"])
    mounts = {m["name"]: m for m in reloader["volumeMounts"]}
    # Whole-volume mounts (never subPath): the kubelet updates only those in place.
    assert {"passwords", "tls", "acl", "config"} <= set(mounts)
    assert not any("subPath" in m for m in reloader["volumeMounts"])
    env = {e["name"]: e["value"] for e in reloader["env"]}
    assert env["RELOAD_INTERVAL_SECONDS"] == "10"
    assert env["REDIS_TLS_CERT_FILE"] == "/etc/redis/tls/tls.crt"
    rules = named(objects(default_values()), "ConfigMap", f"{REDIS}-config")["data"]["acl.rules"]
    (line,) = [r for r in rules.splitlines() if r.startswith("reloader ")]
    assert "+acl|setuser" in line and "+config|set" in line and "~" not in line


def test_it_should_keep_writing_when_a_snapshot_fails_and_alert_instead() -> None:
    """With AOF on, a failed RDB fork must not stop every write with MISCONF."""
    lines = _conf(stack_values("prod")).splitlines()
    assert "stop-writes-on-bgsave-error no" in lines
    assert "appendonly yes" in lines
