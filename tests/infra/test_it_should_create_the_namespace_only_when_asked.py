"""helm.v4.Chart creates no namespace: the program does, unless told it exists."""

from __future__ import annotations

from pulumi_harness import deploy_stack, stack_raw


def test_it_should_create_the_spec_namespace_by_default(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    names = [
        n.inputs["metadata"]["name"]
        for n in deployment.resources.of_type("kubernetes:core/v1:Namespace")
    ]
    assert deployment.exports["namespace"] in names


def test_it_should_use_an_existing_namespace_when_told() -> None:
    raw = stack_raw("staging")
    raw["infra"]["createNamespace"] = False
    deployment = deploy_stack(raw, "staging")
    assert deployment.resources.of_type("kubernetes:core/v1:Namespace") == []
    assert deployment.chart.inputs["namespace"] == "bullmq-staging"
    secrets = deployment.resources.of_type("kubernetes:core/v1:Secret")
    assert {s.inputs["metadata"]["namespace"] for s in secrets} == {"bullmq-staging"}
