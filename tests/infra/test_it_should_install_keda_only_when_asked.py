"""KEDA comes from its own chart repository at the pinned version, only when asked."""

from __future__ import annotations

from pulumi_harness import deploy_stack, stack_raw

from infra.keda import KEDA_REPOSITORY
from platform_spec.stack import load_stack

CHART = "kubernetes:helm.sh/v4:Chart"


def keda_charts(deployment) -> list:  # type: ignore[no-untyped-def]
    return [r for r in deployment.resources.of_type(CHART) if r.inputs["chart"] == "keda"]


def test_it_should_install_the_pinned_keda_chart_in_dev() -> None:
    deployment = deploy_stack(stack_raw("dev"))
    [keda] = keda_charts(deployment)
    assert keda.inputs["repositoryOpts"] == {"repo": KEDA_REPOSITORY}
    assert keda.inputs["version"] == load_stack("dev").infra.keda_chart_version
    assert keda.inputs["namespace"] == "keda"
    namespaces = deployment.resources.of_type("kubernetes:core/v1:Namespace")
    assert "keda" in {n.inputs["metadata"]["name"] for n in namespaces}
    assert deployment.exports["kedaNamespace"] == "keda"


def test_it_should_follow_the_configured_version() -> None:
    raw = stack_raw("dev")
    raw["infra"]["kedaChartVersion"] = "2.17.2"
    [keda] = keda_charts(deploy_stack(raw))
    assert keda.inputs["version"] == "2.17.2"


def test_it_should_leave_keda_alone_in_staging_and_prod() -> None:
    for stack in ("staging", "prod"):
        deployment = deploy_stack(stack_raw(stack), stack)
        assert keda_charts(deployment) == []
        assert "kedaNamespace" not in deployment.exports
        names = {
            n.inputs["metadata"]["name"]
            for n in deployment.resources.of_type("kubernetes:core/v1:Namespace")
        }
        assert "keda" not in names


def test_it_should_not_create_a_namespace_twice_when_keda_shares_it() -> None:
    raw = stack_raw("dev")
    raw["spec"]["keda"] = {"namespace": "bullmq-dev"}
    raw["infra"]["kedaNamespace"] = "bullmq-dev"
    deployment = deploy_stack(raw)
    namespaces = deployment.resources.of_type("kubernetes:core/v1:Namespace")
    assert [n.inputs["metadata"]["name"] for n in namespaces] == ["bullmq-dev"]
    [keda] = keda_charts(deployment)
    assert keda.inputs["namespace"] == "bullmq-dev"
