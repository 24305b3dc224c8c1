"""The dashboard's objects: off by default, hardened like the rest, reachable only from
the namespaces the values name, its Redis ACL user read-only unless actions are on."""

from __future__ import annotations

from typing import Any

import pytest
from chart_rendering import (
    STACKS,
    containers,
    default_values,
    named,
    objects,
    of_kind,
    pod_spec,
    stack_values,
)

from platform_spec import chart

pytestmark = pytest.mark.helm
NAME = "bullmq-platform-dashboard"
ON = {"dashboard.enabled": True, "dashboard.auth.existingSecret": "dash-auth"}
HARDENED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _acl_rule(values: dict[str, Any], user: str) -> str | None:
    config = named(objects(values), "ConfigMap", "bullmq-platform-redis-config")
    for line in config["data"]["acl.rules"].splitlines():
        if line.startswith(f"{user} "):
            return line
    return None


def test_it_should_render_nothing_of_the_dashboard_by_default() -> None:
    docs = objects(default_values())
    assert not [d for d in docs if "dashboard" in d["metadata"]["name"]]
    assert _acl_rule(default_values(), "dashboard") is None


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_harden_every_workload_with_the_dashboard_on(stack: str) -> None:
    docs = objects(stack_values(stack))
    named(docs, "Deployment", NAME)  # every stack turns the dashboard on
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "StatefulSet"):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False
        for container in containers(workload):
            assert container["securityContext"] == HARDENED, container["name"]
            assert "limits" in container["resources"] and "requests" in container["resources"]


def test_it_should_run_the_dashboard_to_its_contract() -> None:
    docs = objects(default_values(**ON, **{"dashboard.basePath": "/ops/q"}))
    deployment = named(docs, "Deployment", NAME)
    (container,) = pod_spec(deployment)["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["BULLMQ_PLATFORM_REDIS_USERNAME"] == "dashboard"
    assert env["BULLMQ_PLATFORM_REDIS_TLS"] == "true"
    assert env["BULLMQ_PLATFORM_SPEC_FILE"] == "/etc/bullmq-platform/spec.json"
    assert env["BULLMQ_PLATFORM_DASHBOARD_PASSWORD_FILE"].startswith("/")  # a path, no value
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    files = {
        (src["secret"]["name"], item["key"])
        for src in volumes["secrets"]["projected"]["sources"]
        for item in src["secret"]["items"]
    }
    assert files == {("auth", "dashboard-password"), ("tls", "ca.crt")}
    assert volumes["dashboard-auth"]["secret"]["secretName"] == "dash-auth"
    assert volumes["spec"]["configMap"]["name"] == "bullmq-platform-spec"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        obj = named(docs, kind, NAME)
        selector = obj["spec"]["selector" if kind == "PodDisruptionBudget" else "podSelector"]
        assert selector["matchLabels"].items() <= labels.items()
    service = named(docs, "Service", NAME)
    assert service["spec"]["selector"].items() <= labels.items()
    assert not [d for d in docs if d["kind"] == "Ingress"], "the Ingress is optional"


def test_it_should_admit_only_the_named_namespaces_and_let_the_dashboard_reach_redis() -> None:
    values = default_values(**ON, **{"dashboard.allowedNamespaces": ["ingress-nginx", "sso"]})
    docs = objects(values)
    (rule,) = named(docs, "NetworkPolicy", NAME)["spec"]["ingress"]
    peers = [
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in rule["from"]
    ]
    assert peers == ["ingress-nginx", "sso"]
    assert [p["port"] for p in rule["ports"]] == ["http"]
    redis_rule, _ = named(docs, "NetworkPolicy", "bullmq-platform-redis")["spec"]["ingress"]
    dashboard_labels = named(docs, "Deployment", NAME)["spec"]["template"]["metadata"]["labels"]
    platform_peer = redis_rule["from"][0]["podSelector"]
    (components,) = platform_peer["matchExpressions"]
    assert dashboard_labels["app.kubernetes.io/component"] in components["values"]
    nobody = default_values(**ON, **{"dashboard.allowedNamespaces": []})
    assert named(objects(nobody), "NetworkPolicy", NAME)["spec"].get("ingress") in (None, [])


def test_it_should_serve_the_base_path_through_an_optional_ingress() -> None:
    values = default_values(
        **ON,
        **{
            "dashboard.basePath": "/ops/queues",
            "dashboard.ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "q.example.com",
                "tlsSecret": "q-tls",
                "annotations": {"nginx.ingress.kubernetes.io/auth-url": "https://sso/auth"},
            },
        },
    )
    ingress = named(objects(values), "Ingress", NAME)
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (rule["host"], path["path"], path["pathType"]) == (
        "q.example.com",
        "/ops/queues",
        "Prefix",
    )
    assert path["backend"]["service"] == {"name": NAME, "port": {"name": "http"}}
    assert ingress["spec"]["tls"] == [{"hosts": ["q.example.com"], "secretName": "q-tls"}]


def test_it_should_give_the_dashboard_user_reads_only_unless_actions_are_on() -> None:
    read_only = _acl_rule(default_values(**ON), "dashboard")
    assert read_only is not None
    words = read_only.split()
    assert "-@all" in words and "+@read" in words and "+evalsha" in words
    assert not [w for w in words if w in ("+@write", "+@all", "+del", "+hset", "+zadd")]
    actions = _acl_rule(default_values(**ON, **{"dashboard.actionsEnabled": True}), "dashboard")
    assert actions is not None
    extra = set(actions.split()) - set(words)
    assert extra == {
        "+del",
        "+hdel",
        "+hset",
        "+incr",
        "+lpop",
        "+lpush",
        "+lrem",
        "+lset",
        "+sadd",
        "+srem",
        "+xadd",
        "+zadd",
        "+zrem",
    }
    assert "-flushall" in words and "-keys" in words


def test_it_should_mount_the_dashboard_password_into_redis_only_when_enabled() -> None:
    def password_paths(values: dict[str, Any]) -> list[str]:
        redis = named(objects(values), "StatefulSet", "bullmq-platform-redis")
        volume = next(v for v in pod_spec(redis)["volumes"] if v["name"] == "passwords")
        return [item["path"] for item in volume["secret"]["items"]]

    assert "dashboard" not in password_paths(default_values())
    assert "dashboard" in password_paths(default_values(**ON))


def test_it_should_name_the_missing_password_secret() -> None:
    with pytest.raises(chart.HelmError, match=r"dashboard\.auth\.existingSecret is required"):
        chart.template(default_values(**{"dashboard.enabled": True}))
    proxied = default_values(**{"dashboard.enabled": True, "dashboard.auth.mode": "proxyHeader"})
    deployment = chart.find(chart.objects(chart.template(proxied)), "Deployment", NAME)
    (container,) = pod_spec(deployment)["containers"]
    assert "BULLMQ_PLATFORM_DASHBOARD_PASSWORD_FILE" not in {e["name"] for e in container["env"]}
