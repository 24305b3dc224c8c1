"""The dashboard: Pulumi generates its basic-auth password in its own Secret, hands
the chart only the Secret's name, and exports the URL and that name (never the password)."""

from __future__ import annotations

from pulumi_harness import deploy_stack, secret_material, stack_raw

from infra.config import program_problems
from platform_spec.stack import parse_stack


def test_it_should_generate_the_password_in_its_own_secret() -> None:
    deployment = deploy_stack(stack_raw("staging"), "staging")  # basic auth, generated
    password = deployment.resources.one(
        "random:index/randomPassword:RandomPassword", "bullmq-platform-dashboard-auth-password"
    )
    assert password.inputs["length"] >= 32
    secret = deployment.resources.one(
        "kubernetes:core/v1:Secret", "bullmq-platform-dashboard-auth-secret"
    )
    assert secret.inputs["metadata"]["name"] == "bullmq-platform-dashboard-auth"
    assert list(secret.inputs["stringData"]) == ["password"]
    assert "stringData" in secret.secrets
    values = deployment.chart.inputs["values"]
    assert values["dashboard"]["auth"]["existingSecret"] == "bullmq-platform-dashboard-auth"
    assert not secret_material(values), "the chart values carry only the Secret's name"
    out = deployment.exports
    assert out["dashboardUrl"] == "https://queues.staging.example.com/"
    assert out["dashboardSecretName"] == "bullmq-platform-dashboard-auth"
    assert "dashboard" not in " ".join(deployment.secret_exports)


def test_it_should_export_the_service_url_without_an_ingress() -> None:
    deployment = deploy_stack(stack_raw("dev"), "dev")
    assert (
        deployment.exports["dashboardUrl"]
        == "http://bullmq-platform-dashboard.bullmq-dev.svc.cluster.local:3000/"
    )


def test_it_should_create_no_password_behind_an_auth_proxy() -> None:
    deployment = deploy_stack(stack_raw("prod"), "prod")  # auth mode proxyHeader
    names = [
        p.name for p in deployment.resources.of_type("random:index/randomPassword:RandomPassword")
    ]
    assert not [n for n in names if "dashboard-auth" in n]
    assert deployment.exports["dashboardSecretName"] is None
    assert (
        deployment.exports["dashboardUrl"]
        == "http://bullmq-platform-dashboard.bullmq.svc.cluster.local:3000/ops/queues"
    )


def test_it_should_refuse_a_generated_password_in_render_mode() -> None:
    raw = stack_raw("staging")
    raw["infra"]["renderYamlToDirectory"] = "rendered/out"
    for part in ("auth", "tls"):
        raw["spec"].setdefault("redis", {})[part] = {
            "source": "existingSecret",
            "existingSecret": f"redis-{part}",
        }
    paths = [path for path, _ in program_problems(parse_stack(raw))]
    assert paths == ["spec.dashboard.auth.source"]


def test_it_should_export_nothing_when_the_dashboard_is_off() -> None:
    raw = stack_raw("dev")
    raw["spec"]["dashboard"] = {"enabled": False}
    out = deploy_stack(raw, "dev").exports
    assert "dashboardUrl" not in out and "dashboardSecretName" not in out
