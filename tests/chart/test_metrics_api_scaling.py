"""keda.scaler metricsApi (the default): KEDA asks the scheduler's scaling endpoint.

Per queue one `metrics-api` trigger reads `desiredReplicas` from
`https://<fullname>-scheduler.<ns>.svc.<clusterDomain>:8443/scaling/<queue>` over TLS (our CA)
with a bearer token; the scheduler serves it on its `scaling` port with the
token and certificate mounted from the auth and TLS Secrets; only KEDA's
namespace reaches that port. KEDA's parameter names are those of its
metrics-api scaler (kedacore/keda `pkg/scalers/metrics_api_scaler.go`, typed
config; auth modes and their parameters in `pkg/scalers/authentication`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
from chart_rendering import (
    HELM_MAJORS,
    STACKS,
    default_values,
    named,
    objects,
    of_kind,
    pod_spec,
    stack_values,
)

from platform_spec import chart
from platform_spec.model import PlatformSpec, SpecError, validate_spec

pytestmark = pytest.mark.helm
Validate = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
CUSTOM_GROUPS = ("keda.sh/", "monitoring.coreos.com/", "cert-manager.io/")
MODES = ("metricsApi", "redis")
SCHEDULER = "bullmq-platform-scheduler"
SECRETS_DIR = "/var/run/secrets/bullmq-platform"


def _with_scaler(values: dict[str, Any], scaler: str) -> dict[str, Any]:
    values.setdefault("keda", {})["scaler"] = scaler
    return values


def _trigger(docs: list[dict[str, Any]], queue: str) -> dict[str, Any]:
    scaled = named(docs, "ScaledObject", f"bullmq-platform-worker-{queue}")
    (trigger,) = scaled["spec"]["triggers"]
    return dict(trigger)


def test_it_should_default_to_the_metrics_api_scaler() -> None:
    assert PlatformSpec().keda.scaler == "metricsApi"
    for stack in STACKS:
        assert PlatformSpec.model_validate(stack_values(stack)).keda.scaler == "metricsApi"


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_ask_the_scheduler_for_each_queues_desired_pods(stack: str) -> None:
    values = stack_values(stack)
    spec = PlatformSpec.model_validate(values)
    docs = objects(values)
    ns = spec.namespace
    for queue in spec.queues:
        trigger = _trigger(docs, queue.name)
        assert trigger["type"] == "metrics-api"
        assert trigger["metricType"] == "AverageValue"
        assert trigger["metadata"] == {
            "url": f"https://{SCHEDULER}.{ns}.svc.cluster.local:8443/scaling/{queue.name}",
            "format": "json",
            "valueLocation": "desiredReplicas",
            "targetValue": "1",
            "activationTargetValue": "0",
            # KEDA >= 2.17 applies `ca` only in `tls` mode; `bearer` sends the token.
            "authModes": "tls,bearer",
            "unsafeSsl": "false",
        }
        assert trigger["authenticationRef"] == {"name": f"bullmq-platform-worker-{queue.name}"}
        scaled = named(docs, "ScaledObject", f"bullmq-platform-worker-{queue.name}")["spec"]
        assert "scalingModifiers" not in scaled["advanced"], "one trigger: no formula"


@pytest.mark.parametrize("scaler", MODES)
def test_it_should_take_bounds_fallback_and_hpa_behavior_from_the_spec(scaler: str) -> None:
    auto = {
        "minReplicas": 0,
        "maxReplicas": 30,
        "pollingIntervalSeconds": 10,
        "cooldownSeconds": 120,
        "fallbackReplicas": 3,
        "scaleUpStabilizationSeconds": 30,
        "scaleUpPercent": 200,
        "scaleUpPods": 6,
        "scaleUpPeriodSeconds": 20,
        "scaleDownStabilizationSeconds": 600,
    }
    values = _with_scaler(default_values(), scaler)
    assert values["queues"][4]["name"] == "notifications"
    values["queues"][4]["autoscaling"].update(auto)
    docs = objects(values)
    spec = named(docs, "ScaledObject", "bullmq-platform-worker-notifications")["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 30)
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (10, 120)
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 3}
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"] == {
        "stabilizationWindowSeconds": 30,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Percent", "value": 200, "periodSeconds": 20},
            {"type": "Pods", "value": 6, "periodSeconds": 20},
        ],
    }
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600
    # Defaults elsewhere: fallback = max(minReplicas, 1), the spec's scale-up defaults.
    other = named(docs, "ScaledObject", "bullmq-platform-worker-agent-execution")["spec"]
    assert other["fallback"] == {"failureThreshold": 3, "replicas": 1}
    policies = other["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]
    assert [p["value"] for p in policies["policies"]] == [400, 4]


def test_it_should_leave_replicas_to_keda_in_both_modes() -> None:
    for scaler in MODES:
        docs = objects(_with_scaler(default_values(), scaler))
        for deployment in of_kind(docs, "Deployment"):
            if "-worker-" in deployment["metadata"]["name"]:
                assert "replicas" not in deployment["spec"], (scaler, deployment["metadata"])


def test_it_should_authenticate_with_secrets_that_the_chart_references() -> None:
    """token from the auth Secret, ca and KEDA's own client pair from the TLS Secret."""
    values = default_values(**{"redis.auth.passwordKeys.scalingToken": "keda-token"})
    docs = objects(values)
    scaled = of_kind(docs, "ScaledObject")
    assert len(scaled) == len(PlatformSpec().queues)
    for obj in scaled:
        ref = obj["spec"]["triggers"][0]["authenticationRef"]["name"]
        auth = named(docs, "TriggerAuthentication", ref)["spec"]
        assert set(auth) == {"secretTargetRef"}, "no ConfigMap, no inline values"
        refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["secretTargetRef"]}
        assert refs == {
            "token": ("auth", "keda-token"),
            "ca": ("tls", "ca.crt"),
            # KEDA's client certificate, never the Redis server's key (tls.key)
            "cert": ("tls", "keda-client.crt"),
            "key": ("tls", "keda-client.key"),
        }
    assert not [d for d in docs if d["metadata"]["name"] == "bullmq-platform-keda"]


def test_it_should_issue_keda_its_own_client_certificate_with_cert_manager() -> None:
    values = default_values(
        **{"redis.tls.source": "certManager", "redis.tls.certManagerIssuer": "ca-issuer"}
    )
    docs = objects(values)
    client = named(docs, "Certificate", "bullmq-platform-redis-keda-client")["spec"]
    assert client["usages"] == ["client auth", "digital signature", "key encipherment"]
    assert client["issuerRef"]["name"] == "ca-issuer"
    server = named(docs, "Certificate", "bullmq-platform-redis")["spec"]
    assert client["secretName"] != server["secretName"]
    for auth in of_kind(docs, "TriggerAuthentication"):
        refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
        assert refs["cert"] == (client["secretName"], "tls.crt")
        assert refs["key"] == (client["secretName"], "tls.key")


def test_it_should_require_a_client_certificate_at_the_scaling_endpoint() -> None:
    docs = objects(default_values())
    scheduler = named(docs, "Deployment", "bullmq-platform-scheduler")
    env = {
        e["name"]: e.get("value")
        for e in scheduler["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["BULLMQ_PLATFORM_SCALING_CLIENT_CA_FILE"].endswith("/scaling-tls/client-ca.crt")


def test_it_should_serve_the_scaling_endpoint_from_the_scheduler() -> None:
    docs = objects(default_values())
    deployment = named(docs, "Deployment", SCHEDULER)
    (container,) = pod_spec(deployment)["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["BULLMQ_PLATFORM_SCALING_PORT"] == "8443"
    assert env["BULLMQ_PLATFORM_SCALING_TOKEN_FILE"] == f"{SECRETS_DIR}/scaling-token"
    assert env["BULLMQ_PLATFORM_SCALING_CERT_DIR"] == f"{SECRETS_DIR}/scaling-tls"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "scaling": 8443}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["secrets"] == SECRETS_DIR
    secrets = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "secrets")
    files = {
        item["path"]: (src["secret"]["name"], item["key"])
        for src in secrets["projected"]["sources"]
        for item in src["secret"]["items"]
    }
    assert files["scaling-token"] == ("auth", "scaling-token")
    assert files["scaling-tls/tls.crt"] == ("tls", "tls.crt")
    assert files["scaling-tls/tls.key"] == ("tls", "tls.key")
    # Workers never get the token or the serving key.
    worker = named(docs, "Deployment", "bullmq-platform-worker-notifications")
    worker_paths = {
        item["path"]
        for v in pod_spec(worker)["volumes"]
        if v["name"] == "secrets"
        for src in v["projected"]["sources"]
        for item in src["secret"]["items"]
    }
    assert worker_paths == {"password", "ca.crt"}


def test_it_should_give_the_scheduler_a_service_on_both_ports() -> None:
    docs = objects(default_values())
    service = named(docs, "Service", SCHEDULER)["spec"]
    labels = named(docs, "Deployment", SCHEDULER)["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["ports"]}
    assert ports == {"scaling": (8443, "scaling"), "http": (8080, "http")}


def test_it_should_render_no_scaling_endpoint_in_redis_mode() -> None:
    docs = objects(default_values(**{"keda.scaler": "redis"}))
    (container,) = pod_spec(named(docs, "Deployment", SCHEDULER))["containers"]
    assert not [e for e in container["env"] if "SCALING" in e["name"]]
    assert [p["name"] for p in container["ports"]] == ["http"]
    assert [p["name"] for p in named(docs, "Service", SCHEDULER)["spec"]["ports"]] == ["http"]
    assert not [
        d for d in of_kind(docs, "NetworkPolicy") if d["metadata"]["name"].endswith("-scaling")
    ]
    for trigger in named(docs, "ScaledObject", "bullmq-platform-worker-notifications")["spec"][
        "triggers"
    ]:
        assert trigger["type"] == "redis"


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def test_it_should_admit_only_kedas_namespace_to_the_scaling_port() -> None:
    docs = objects(default_values(**{"keda.namespace": "autoscaling"}))
    scheduler = named(docs, "Deployment", SCHEDULER)["spec"]["template"]["metadata"]["labels"]
    worker = named(docs, "Deployment", "bullmq-platform-worker-notifications")
    policies = [
        p["spec"]
        for p in of_kind(docs, "NetworkPolicy")
        if _matches(p["spec"]["podSelector"], scheduler)
        and not p["spec"]["podSelector"].get("matchExpressions")
    ]
    (policy,) = policies
    assert not _matches(policy["podSelector"], worker["spec"]["template"]["metadata"]["labels"])
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "autoscaling"}}}
    ]
    assert rule["ports"] == [{"port": "scaling", "protocol": "TCP"}]
    # Every other policy that selects the scheduler admits only http, from monitoring.
    runtime = named(docs, "NetworkPolicy", "bullmq-platform-runtime")["spec"]
    for other in runtime["ingress"]:
        assert [p["port"] for p in other["ports"]] == ["http"]
        assert other["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ]


def test_it_should_put_the_scheduler_names_on_a_cert_manager_certificate() -> None:
    values = default_values(**{"redis.tls.source": "certManager"})
    values["redis"]["tls"].update(existingSecret=None, certManagerIssuer="platform-ca")
    cert = named(objects(values), "Certificate", "bullmq-platform-redis")
    assert {
        SCHEDULER,
        f"{SCHEDULER}.bullmq",
        f"{SCHEDULER}.bullmq.svc",
        f"{SCHEDULER}.bullmq.svc.cluster.local",
    } <= set(cert["spec"]["dnsNames"])
    redis_mode = _with_scaler(values, "redis")
    (cert,) = of_kind(objects(redis_mode), "Certificate")
    assert not [n for n in cert["spec"]["dnsNames"] if n.startswith(SCHEDULER)]


@pytest.mark.parametrize("major", HELM_MAJORS)
@pytest.mark.parametrize("scaler", MODES)
@pytest.mark.parametrize("stack", STACKS)
def test_it_should_validate_every_example_in_both_modes(
    stack: str, scaler: str, major: int, crd_validate: Validate
) -> None:
    docs = objects(_with_scaler(stack_values(stack), scaler), major=major)
    custom = [d for d in docs if d["apiVersion"].startswith(CUSTOM_GROUPS)]
    assert {"ScaledObject", "TriggerAuthentication"} <= {d["kind"] for d in custom}
    failures = [r for r in crd_validate(custom) if r["error"]]
    assert not failures, failures
    errors = []
    for doc in (d for d in docs if not d["apiVersion"].startswith(CUSTOM_GROUPS)):
        try:
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert not errors, errors


BAD = [
    ("no scheduler", {"scheduler.replicas": 0}, "scheduler.replicas"),
    ("no tls", {"redis.tls.enabled": False}, "redis.tls.enabled"),
    ("no auth", {"redis.auth.enabled": False}, "redis.auth.enabled"),
]


@pytest.mark.parametrize("major", HELM_MAJORS)
@pytest.mark.parametrize(("case", "changes", "field"), BAD, ids=[b[0] for b in BAD])
def test_it_should_refuse_a_scaling_endpoint_nobody_can_serve(
    major: int, case: str, changes: dict[str, Any], field: str
) -> None:
    """helm and the Python spec refuse the same values, naming the same field."""
    with pytest.raises(chart.HelmError) as caught:
        chart.template(default_values(**changes), helm=chart.helm_binary(major))
    assert f"{field}: must be" in str(caught.value)
    with pytest.raises(SpecError) as refused:
        validate_spec(default_values(**changes))
    assert field in [path for path, _ in refused.value.problems]
    # The plain redis mode has none of these needs.
    relaxed = default_values(**changes, **{"keda.scaler": "redis"})
    assert of_kind(chart.objects(chart.template(relaxed)), "ScaledObject")
    validate_spec(relaxed)
