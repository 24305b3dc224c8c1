"""GitOps render mode: manifests go to files, and nothing rendered carries a secret.

With `infra.renderYamlToDirectory` every Kubernetes object is routed to a
`kubernetes.Provider(render_yaml_to_directory=...)`, no Secret is created
(the chart only names existing ones) and neither the program's inputs nor the
chart's rendered YAML contain a password, key or certificate.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_harness import Deployment, deploy_stack, secret_material, stack_raw

from platform_spec import chart
from platform_spec.stack import REPO_ROOT

EXISTING = {
    "auth": {"source": "existingSecret", "existingSecret": "redis-auth-from-vault"},
    "tls": {"source": "existingSecret", "existingSecret": "redis-tls-from-vault"},
}


def render_mode(stack: str, directory: str = "rendered/out") -> dict[str, Any]:
    raw = stack_raw(stack)
    raw["infra"]["renderYamlToDirectory"] = directory
    raw["infra"]["installKeda"] = True
    raw["spec"].setdefault("redis", {}).update(EXISTING)
    dashboard = raw["spec"].get("dashboard", {})
    if dashboard.get("enabled"):
        auth = dashboard.setdefault("auth", {})
        auth.update(source="existingSecret", existingSecret="dashboard-auth-from-vault")
    return raw


def leaks(deployment: Deployment) -> list[str]:
    """Every place secret material reaches: resource inputs, plain exports, rendered chart."""
    found = [
        f"{r.type}/{r.name}{path}"
        for r in deployment.resources.resources
        for path in secret_material(r.inputs)
    ]
    if deployment.resources.of_type("kubernetes:core/v1:Secret"):
        found.append("a Secret resource is created")
    inputs = deployment.chart.inputs
    rendered = chart.template(
        inputs["values"], release=inputs["name"], namespace=inputs["namespace"]
    )
    found += [f"rendered chart{p}" for p in secret_material(rendered)]
    found += [
        f"rendered Secret {d['metadata']['name']}"
        for d in chart.objects(rendered)
        if d["kind"] == "Secret" and (d.get("data") or d.get("stringData"))
    ]
    plain = {k: v for k, v in deployment.exports.items() if k not in deployment.secret_exports}
    found += [f"export {p}" for p in secret_material(plain)]
    return found


@pytest.mark.helm
def test_it_should_render_no_secret_material(stack_name: str) -> None:
    deployment = deploy_stack(render_mode(stack_name), stack_name)
    assert leaks(deployment) == []
    values = deployment.chart.inputs["values"]["redis"]
    assert values["auth"]["existingSecret"] == "redis-auth-from-vault"
    assert values["tls"]["existingSecret"] == "redis-tls-from-vault"
    for kind in ("random:", "tls:"):
        assert [r for r in deployment.resources.resources if r.type.startswith(kind)] == []


@pytest.mark.helm
def test_it_should_catch_secret_material_when_secrets_are_generated() -> None:
    # the control: the same scan on a normal (applying) stack finds the generated Secrets
    found = leaks(deploy_stack(stack_raw("dev")))
    assert "a Secret resource is created" in found
    assert any("stringData" in hit for hit in found)


def test_it_should_route_every_kubernetes_object_to_the_render_provider() -> None:
    deployment = deploy_stack(render_mode("prod", "gitops/prod"), "prod")
    [provider] = deployment.resources.of_type("pulumi:providers:kubernetes")
    directory = str(REPO_ROOT / "gitops" / "prod")
    assert provider.inputs["renderYamlToDirectory"] == directory
    assert deployment.exports["renderedTo"] == directory
    k8s = [r for r in deployment.resources.resources if r.type.startswith("kubernetes:")]
    assert {r.type for r in k8s} >= {"kubernetes:core/v1:Namespace", "kubernetes:helm.sh/v4:Chart"}
    for resource in k8s:
        assert resource.provider and f"::{provider.name}::" in resource.provider, resource


def test_it_should_keep_an_absolute_render_directory() -> None:
    deployment = deploy_stack(render_mode("dev", "/srv/gitops/dev"))
    [provider] = deployment.resources.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == "/srv/gitops/dev"


def test_it_should_use_the_ambient_cluster_outside_render_mode(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    assert deployment.resources.of_type("pulumi:providers:kubernetes") == []
    assert "renderedTo" not in deployment.exports
