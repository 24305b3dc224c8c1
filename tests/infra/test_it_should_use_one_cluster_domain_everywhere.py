"""spec.clusterDomain is the one value every in-cluster DNS name uses: the certificate
Pulumi generates, the stack's exports, and (rendered by helm 4 and 3 from the values the
mocks captured) the pods' Redis and Sentinel hosts, KEDA's addresses and scaling URLs,
and NOTES
(helm 4).
A stack still setting the old infra.clusterDomain is refused, naming the field."""

from __future__ import annotations

import subprocess
import tempfile
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from pulumi_harness import deploy_stack, stack_raw

from infra.config import ConfigError
from platform_spec import chart
from platform_spec.chart import CHART_DIR
from platform_spec.pod_facts import CLUSTER_DOMAIN

pytestmark = pytest.mark.helm
DOMAIN = "corp.internal"
SERVER_CSR = "bullmq-platform-redis-tls-server-csr"


def _without_port(addresses: str) -> set[str]:
    return {address.rsplit(":", 1)[0] for address in addresses.split(",")}


def _hosts(docs: list[dict[str, Any]]) -> set[str]:
    """Every in-cluster host the rendered objects connect to (Redis, Sentinels, scheduler)."""
    hosts = set()
    for doc in docs:
        spec = doc.get("spec", {})
        for container in spec.get("template", {}).get("spec", {}).get("containers", []):
            for env in container.get("env", []):
                if env["name"].endswith("REDIS_HOST"):
                    hosts.add(env["value"])
                if env["name"].endswith("REDIS_SENTINEL_HOSTS"):
                    hosts |= _without_port(env["value"])
        for trigger in spec.get("triggers", []) if doc["kind"] == "ScaledObject" else []:
            meta = trigger["metadata"]
            if "url" in meta:
                hosts.add(str(urlparse(meta["url"]).hostname))
            for key in ("address", "addresses"):
                if key in meta:
                    hosts |= _without_port(meta[key])
    return hosts


def _notes(values: dict[str, Any], release: str, namespace: str) -> str:
    """What `helm install` prints (helm 4's client-side dry run needs no cluster; helm 3's does)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
        yaml.safe_dump(values, handle)
        handle.flush()
        install = [chart.helm_binary(4), "install", release, str(CHART_DIR), "--dry-run=client"]
        result = subprocess.run(
            [*install, "--namespace", namespace, "--values", handle.name],
            capture_output=True,
            text=True,
            check=True,
        )
    return result.stdout.partition("NOTES:")[2]


@pytest.mark.parametrize(
    ("scaler", "mode"),
    [("metricsApi", "in-cluster"), ("redis", "in-cluster"), ("redis", "sentinel")],
)
@pytest.mark.parametrize("major", [4, 3])
def test_it_should_name_every_in_cluster_host_under_the_spec_cluster_domain(
    scaler: str, mode: str, major: int
) -> None:
    raw = stack_raw("prod")
    raw["spec"]["clusterDomain"] = DOMAIN
    raw["spec"].setdefault("keda", {})["scaler"] = scaler
    raw["spec"].setdefault("redis", {})["mode"] = mode
    deployment = deploy_stack(raw, "prod")
    sans = set(
        deployment.resources.one("tls:index/certRequest:CertRequest", SERVER_CSR).inputs["dnsNames"]
    )
    inputs = deployment.chart.inputs
    assert inputs["values"]["clusterDomain"] == DOMAIN
    rendered = chart.template(
        inputs["values"],
        release=inputs["name"],
        namespace=inputs["namespace"],
        helm=chart.helm_binary(major),
    )
    notes = _notes(inputs["values"], inputs["name"], inputs["namespace"])
    exports = deployment.exports
    # Sentinel mode exports the Sentinel Service as the way in (no redisHost).
    hosts = _hosts(chart.objects(rendered)) | {
        exports.get("redisHost") or exports["redisSentinelService"]
    }
    hosts.add(str(urlparse(exports["dashboardUrl"]).hostname))
    print(f"helm {major}, {scaler}, {mode}: hosts {sorted(hosts)}")
    assert hosts and all(host.endswith(f".svc.{DOMAIN}") for host in hosts), hosts
    # Pods and KEDA reach Redis (and the scaling endpoint) by names the certificate holds.
    assert hosts - {str(urlparse(exports["dashboardUrl"]).hostname)} <= sans
    assert any(name.endswith(f".svc.{DOMAIN}") for name in sans)
    for text in (rendered, notes, *map(str, sans), *map(str, exports.values())):
        assert CLUSTER_DOMAIN not in text
    if scaler == "metricsApi":
        assert f".svc.{DOMAIN}:" in notes  # the scaling URL it tells operators to curl


def test_it_should_refuse_the_old_infra_cluster_domain_naming_the_field() -> None:
    raw = stack_raw("dev")
    raw["infra"]["clusterDomain"] = DOMAIN
    with pytest.raises(ConfigError, match=r"infra\.clusterDomain moved to spec\.clusterDomain"):
        deploy_stack(raw)
