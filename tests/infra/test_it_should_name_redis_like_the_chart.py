"""infra.naming computes the names the chart gives Redis: checked against a real render."""

from __future__ import annotations

import pytest

from infra.naming import fullname, redis_names, server_dns_names
from platform_spec import chart
from platform_spec.model import PlatformSpec
from platform_spec.pod_facts import CLUSTER_DOMAIN
from platform_spec.values import chart_values

pytestmark = pytest.mark.helm
# The default cluster domain and another one: every name follows spec.clusterDomain.
DOMAINS = [CLUSTER_DOMAIN, "corp.internal"]

CASES = [
    ("bullmq-platform", None),  # release is the chart name
    ("bullmq", None),  # release gets the chart name appended
    ("team-bullmq-platform-prod", None),  # contains the chart name: used as is
    ("queues", "jobs"),  # fullnameOverride wins
    ("a" * 34 + "-x", None),  # cut to 50 characters, a trailing '-' dropped
]


@pytest.mark.parametrize(("release", "override"), CASES)
def test_it_should_match_the_rendered_service_and_statefulset_names(
    release: str, override: str | None
) -> None:
    spec = PlatformSpec(namespace="ns1", fullname_override=override)
    docs = chart.objects(
        chart.template(chart_values(spec, auth_secret="a", tls_secret="t"), release=release)
    )
    names = redis_names(spec, release)
    service = chart.find(docs, "Service", names.service)
    headless = chart.find(docs, "Service", names.headless_service)
    statefulset = chart.find(docs, "StatefulSet", names.statefulset)
    assert headless["spec"].get("clusterIP") == "None"
    assert service["spec"].get("clusterIP") != "None"
    assert statefulset["spec"]["serviceName"] == names.headless_service
    assert chart.find(docs, "ConfigMap", f"{fullname(release, override)}-spec")


def test_it_should_truncate_like_helm() -> None:
    assert fullname("a" * 34 + "-x") == ("a" * 34 + "-x-bullmq-platform")[:50].removesuffix("-")
    assert len(fullname("r" * 63)) == 50
    assert fullname("b" * 49 + "-", None).endswith("b")


@pytest.mark.parametrize("domain", DOMAINS)
def test_it_should_give_the_client_host_the_chart_gives_its_clients(domain: str) -> None:
    spec = PlatformSpec(namespace="ns1", cluster_domain=domain)
    docs = chart.objects(chart.template(chart_values(spec, auth_secret="a", tls_secret="t")))
    names = redis_names(spec, "bullmq-platform")
    hosts = {
        env.get("value")
        for doc in docs
        if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
        for env in container.get("env", [])
        if env["name"] == "BULLMQ_PLATFORM_REDIS_HOST"
    }
    assert hosts == {names.client_host}
    assert names.client_host in server_dns_names(names)


@pytest.mark.parametrize("domain", DOMAINS)
def test_it_should_cover_the_scaling_endpoint_keda_calls(domain: str) -> None:
    """KEDA's metrics-api trigger verifies the scheduler's certificate against its URL host."""
    from urllib.parse import urlparse

    spec = PlatformSpec(namespace="ns1", cluster_domain=domain)
    docs = chart.objects(chart.template(chart_values(spec, auth_secret="a", tls_secret="t")))
    names = redis_names(spec, "bullmq-platform")
    assert chart.find(docs, "Service", names.scheduler_service)
    hosts = {
        urlparse(trigger["metadata"]["url"]).hostname
        for doc in docs
        if doc["kind"] == "ScaledObject"
        for trigger in doc["spec"]["triggers"]
        if trigger["type"] == "metrics-api"
    }
    assert hosts, "no metrics-api trigger rendered"
    assert hosts <= set(server_dns_names(names))


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("mode", ["in-cluster", "sentinel"])
def test_it_should_give_a_cert_manager_certificate_the_sans_pulumi_generates(
    mode: str, domain: str
) -> None:
    """One rule, two builders: the chart's cert-manager Certificate (GitOps, no Python)
    and the certificate Pulumi generates name the same hosts (in Sentinel mode every
    pod, whose Redis and Sentinel announce that name, and the Sentinel Service)."""
    spec = PlatformSpec.model_validate(
        {"namespace": "ns1", "clusterDomain": domain, "redis": {"mode": mode}}
    )
    values = chart_values(spec, auth_secret="a", tls_secret=None)
    values["redis"]["tls"].update(source="certManager", certManagerIssuer="platform-ca")
    docs = chart.objects(chart.template(values, release="team-a"))
    # the server's certificate; KEDA's client certificate (no dnsNames) is the other one
    (cert,) = [doc for doc in docs if doc["kind"] == "Certificate" and "dnsNames" in doc["spec"]]
    assert cert["spec"]["dnsNames"] == server_dns_names(redis_names(spec, "team-a"))
    if mode == "sentinel":
        names = redis_names(spec, "team-a")
        for address in names.sentinel_addresses(spec.redis.sentinel.port):
            assert address.rsplit(":", 1)[0] in cert["spec"]["dnsNames"]
        assert f"{names.sentinel_service}.ns1.svc.{domain}" in cert["spec"]["dnsNames"]
