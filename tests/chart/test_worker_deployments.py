"""One worker Deployment per queue, to the runtime contract, safe to drain and to autoscale."""

from __future__ import annotations

import pytest
from chart_rendering import STACKS, default_values, named, objects, of_kind, pod_spec, stack_values

from platform_spec.model import PlatformSpec

pytestmark = pytest.mark.helm
SECRETS_DIR = "/var/run/secrets/bullmq-platform"


def _worker(docs: list[dict], queue: str) -> dict:
    return named(docs, "Deployment", f"bullmq-platform-worker-{queue}")


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_render_one_worker_per_queue_without_replicas_under_keda(stack: str) -> None:
    values = stack_values(stack)
    spec = PlatformSpec.model_validate(values)
    docs = objects(values)
    for queue in spec.queues:
        deployment = _worker(docs, queue.name)
        assert "replicas" not in deployment["spec"], "KEDA owns replicas"
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert grace == queue.grace_period_seconds
        assert grace > queue.job_timeout_seconds


def test_it_should_set_fixed_replicas_when_keda_is_off() -> None:
    docs = objects(default_values(**{"keda.enabled": False}))
    for queue in PlatformSpec().queues:
        assert _worker(docs, queue.name)["spec"]["replicas"] == queue.autoscaling.min_replicas
    assert not of_kind(docs, "ScaledObject")


def test_it_should_run_the_worker_to_the_runtime_contract() -> None:
    docs = objects(default_values(**{"image.digest": "sha256:" + "b" * 64}))
    deployment = _worker(docs, "notifications")
    (container,) = pod_spec(deployment)["containers"]
    assert container["command"] == ["python", "-m", "workers"]
    assert container["args"] == ["--queue", "notifications"]
    assert container["image"] == "ghcr.io/example/bullmq-platform@sha256:" + "b" * 64
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "BULLMQ_PLATFORM_REDIS_HOST": "bullmq-platform-redis.bullmq.svc.cluster.local",
        "BULLMQ_PLATFORM_REDIS_PORT": "6379",
        "BULLMQ_PLATFORM_REDIS_USERNAME": "worker",
        "BULLMQ_PLATFORM_REDIS_TLS": "true",
        "BULLMQ_PLATFORM_SPEC_FILE": "/etc/bullmq-platform/spec.json",
        "BULLMQ_PLATFORM_LOG_LEVEL": "info",
    }
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["secrets"] == SECRETS_DIR
    assert mounts["spec"] == "/etc/bullmq-platform"
    secrets = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "secrets")
    files = {
        (src["secret"]["name"], item["key"], item["path"])
        for src in secrets["projected"]["sources"]
        for item in src["secret"]["items"]
    }
    assert files == {("auth", "worker-password", "password"), ("tls", "ca.crt", "ca.crt")}
    spec_volume = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "spec")
    assert spec_volume["configMap"]["name"] == "bullmq-platform-spec"


def test_it_should_keep_workers_from_being_evicted_mid_job() -> None:
    """A PDB per queue; safe-to-evict by the eviction rule (tests/chart/test_node_drains.py)."""
    docs = objects(default_values(**{"scheduling.evictionGraceSeconds": 0}))
    for queue in PlatformSpec().queues:
        deployment = _worker(docs, queue.name)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
        pdb = named(docs, "PodDisruptionBudget", f"bullmq-platform-worker-{queue.name}")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_it_should_honour_an_explicit_grace_period() -> None:
    docs = objects(default_values(**{"queues.0.terminationGracePeriodSeconds": 900}))
    assert pod_spec(_worker(docs, "agent-execution"))["terminationGracePeriodSeconds"] == 900


def test_it_should_give_each_worker_its_queues_log_level() -> None:
    """queues[].logLevel reaches that queue's pods only (workers/runtime.py reads it)."""
    names = [q.name for q in PlatformSpec().queues]
    docs = objects(default_values(**{f"queues.{names.index('notifications')}.logLevel": "debug"}))
    for name in names:
        (container,) = pod_spec(_worker(docs, name))["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        want = "debug" if name == "notifications" else "info"
        assert env["BULLMQ_PLATFORM_LOG_LEVEL"] == want, name
