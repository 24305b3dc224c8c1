"""The scheduler: replicas from values, runtime contract, hardening, its own PDB."""

from __future__ import annotations

import pytest
from chart_rendering import named, objects, pod_spec, stack_values

pytestmark = pytest.mark.helm


def test_it_should_run_the_scheduler_with_its_own_user_and_pdb() -> None:
    docs = objects(stack_values("prod"))
    deployment = named(docs, "Deployment", "bullmq-platform-scheduler")
    assert deployment["spec"]["replicas"] == 2  # Pulumi.prod.yaml
    (container,) = pod_spec(deployment)["containers"]
    assert container["command"] == ["python", "-m", "scheduler"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["BULLMQ_PLATFORM_REDIS_USERNAME"] == "scheduler"
    secrets = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "secrets")
    keys = [i["key"] for s in secrets["projected"]["sources"] for i in s["secret"]["items"]]
    assert "scheduler-password" in keys and "worker-password" not in keys
    pdb = named(docs, "PodDisruptionBudget", "bullmq-platform-scheduler")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
