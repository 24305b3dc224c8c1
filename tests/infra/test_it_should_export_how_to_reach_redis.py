"""Stack outputs: where Redis is, which Secrets to mount, which queues exist; the URL is secret."""

from __future__ import annotations

import runpy

import pulumi
import pytest
from pulumi_harness import Recorder, deploy_stack, set_config, stack_raw

from platform_spec.stack import PROJECT, REPO_ROOT, load_stack


def test_it_should_export_host_port_secrets_and_queues(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    config = load_stack(stack_name)
    out = deployment.exports
    assert out["redisHost"] == f"bullmq-platform-redis.{config.spec.namespace}.svc.cluster.local"
    assert out["redisPort"] == config.spec.redis.port
    assert out["authSecretName"] == "bullmq-platform-redis-auth"
    assert out["tlsSecretName"] == "bullmq-platform-redis-tls"
    assert out["queues"] == [q.name for q in config.spec.queues]
    assert out["caCertPem"].startswith("-----BEGIN CERTIFICATE-----")
    host = out["redisHost"]
    assert out["redisUrl"].startswith("rediss://worker:mockpw")
    assert out["redisUrl"].endswith(f"@{host}:6379/0")


def test_it_should_mark_only_the_url_secret(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    assert deployment.secret_exports == {"redisUrl"}


def test_it_should_point_at_an_external_redis() -> None:
    raw = stack_raw("prod")
    raw["spec"]["redis"] = {
        "mode": "external",
        "external": {"host": "redis.example.com", "port": 6380, "username": "bullmq"},
        "auth": {"source": "existingSecret", "existingSecret": "managed-redis"},
        "tls": {"source": "existingSecret", "existingSecret": "managed-redis-ca"},
    }
    deployment = deploy_stack(raw, "prod")
    out = deployment.exports
    assert (out["redisHost"], out["redisPort"]) == ("redis.example.com", 6380)
    assert out["redisUrl"] == "rediss://bullmq@redis.example.com:6380/0"
    assert "redisUrl" in deployment.secret_exports


def test_it_should_run_the_entry_point_and_export() -> None:
    exported: dict[str, object] = {}
    real_export = pulumi.export
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack="dev", preview=True)
    set_config(stack_raw("dev"))

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(REPO_ROOT / "infra" / "__main__.py"), run_name="__main__")

    pulumi.export = exported.__setitem__  # type: ignore[assignment]
    try:
        run()
    finally:
        pulumi.export = real_export
    assert {
        "redisHost",
        "redisPort",
        "authSecretName",
        "tlsSecretName",
        "queues",
        "redisUrl",
    } <= set(exported)
    assert recorder.of_type("kubernetes:helm.sh/v4:Chart")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_it_should_validate_every_checked_in_stack(stack: str) -> None:
    assert load_stack(stack).spec.environment == stack


def test_it_should_name_the_sentinels_in_sentinel_mode() -> None:
    raw = stack_raw("prod")
    raw["spec"]["redis"]["mode"] = "sentinel"
    deployment = deploy_stack(raw, "prod")
    out = deployment.exports
    ns = load_stack("prod").spec.namespace
    pod = "bullmq-platform-redis-{}.bullmq-platform-redis-headless." + ns + ".svc.cluster.local"
    assert out["redisSentinelService"] == f"bullmq-platform-redis-sentinel.{ns}.svc.cluster.local"
    assert out["redisSentinelAddresses"] == [pod.format(i) + ":26379" for i in range(3)]
    assert out["redisSentinelMaster"] == "bullmq"
    assert out["redisSentinelPort"] == 26379
    # Pod 0 is a replica after any failover: no host or URL that would point at it.
    assert "redisHost" not in out and "redisUrl" not in out
    csr = deployment.resources.one(
        "tls:index/certRequest:CertRequest", "bullmq-platform-redis-tls-server-csr"
    )
    sans = set(csr.inputs["dnsNames"])
    assert {pod.format(i) for i in range(3)} | {out["redisSentinelService"]} <= sans
    assert deployment.secret_exports == set()


def test_it_should_refuse_two_sentinels_outside_dev_at_preview() -> None:
    raw = stack_raw("prod")
    raw["spec"]["redis"]["mode"] = "sentinel"
    raw["spec"]["redis"]["sentinel"] = {"replicas": 1, "quorum": 1, "minReplicasToWrite": 1}
    with pytest.raises(Exception, match=r"spec\.redis\.sentinel\.replicas"):
        deploy_stack(raw, "prod")
