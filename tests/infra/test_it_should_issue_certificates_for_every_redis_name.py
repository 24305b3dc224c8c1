"""A private CA and a server certificate whose SANs cover every name clients use."""

from __future__ import annotations

from pulumi_harness import PEM_KIND, deploy_stack, run_under_mocks, stack_raw

from infra.certificates import RedisTls, RedisTlsArgs

TLS = "tls:index/"
SERVER = "bullmq-platform-redis-tls-server"
SERVER_CSR = "bullmq-platform-redis-tls-server-csr"


def test_it_should_sign_the_server_certificate_with_its_own_ca(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    res = deployment.resources
    keys = res.of_type(f"{TLS}privateKey:PrivateKey")
    assert sorted(k.name for k in keys) == [
        "bullmq-platform-redis-tls-ca-key",
        "bullmq-platform-redis-tls-keda-client-key",
        "bullmq-platform-redis-tls-server-key",
    ]
    assert all(k.inputs["algorithm"] == "ECDSA" and k.inputs["ecdsaCurve"] == "P256" for k in keys)
    ca = res.one(f"{TLS}selfSignedCert:SelfSignedCert")
    assert ca.inputs["isCaCertificate"] is True
    assert "cert_signing" in ca.inputs["allowedUses"]
    assert ca.inputs["privateKeyPem"].startswith(
        f"-----BEGIN {PEM_KIND}-----\nMOCKKEYbullmq-platform-redis-tls-ca-key"
    )
    server = res.one(f"{TLS}locallySignedCert:LocallySignedCert", SERVER)
    assert "MOCKCERTbullmq-platform-redis-tls-ca\n" in server.inputs["caCertPem"]
    assert "MOCKKEYbullmq-platform-redis-tls-ca-key" in server.inputs["caPrivateKeyPem"]
    assert "server_auth" in server.inputs["allowedUses"]
    assert "cert_signing" not in server.inputs["allowedUses"]
    csr = res.one(f"{TLS}certRequest:CertRequest", SERVER_CSR)
    assert "MOCKKEYbullmq-platform-redis-tls-server-key" in csr.inputs["privateKeyPem"]
    # every private key travels as a secret, whatever the provider declares
    assert "privateKeyPem" in ca.secrets and "privateKeyPem" in csr.secrets
    assert "caPrivateKeyPem" in server.secrets


def test_it_should_name_every_service_and_pod_form_in_the_sans() -> None:
    deployment = deploy_stack(stack_raw("staging"), "staging")
    csr = deployment.resources.one(f"{TLS}certRequest:CertRequest", SERVER_CSR)
    sans = set(csr.inputs["dnsNames"])
    ns, svc, headless = "bullmq-staging", "bullmq-platform-redis", "bullmq-platform-redis-headless"
    pod = f"{svc}-0.{headless}"
    for name in (svc, headless, pod):
        assert {name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"} <= sans
    assert f"*.{headless}.{ns}.svc.cluster.local" in sans
    assert "localhost" in sans and csr.inputs["ipAddresses"] == ["127.0.0.1"]
    assert csr.inputs["subject"]["commonName"] == f"{svc}.{ns}.svc"
    # the exported host is one of them
    assert deployment.exports["redisHost"] in sans


def test_it_should_take_validity_and_renewal_from_the_stack() -> None:
    deployment = deploy_stack(stack_raw("prod"), "prod")
    server = deployment.resources.one(f"{TLS}locallySignedCert:LocallySignedCert", SERVER)
    ca = deployment.resources.one(f"{TLS}selfSignedCert:SelfSignedCert")
    assert server.inputs["validityPeriodHours"] == 1440  # Pulumi.prod.yaml
    assert server.inputs["earlyRenewalHours"] == 720
    assert ca.inputs["validityPeriodHours"] == 5 * 365 * 24  # the default
    assert ca.inputs["earlyRenewalHours"] == 720


def test_it_should_store_a_tls_secret_with_crt_key_and_ca() -> None:
    deployment = deploy_stack(stack_raw("dev"))
    secret = deployment.resources.one(
        "kubernetes:core/v1:Secret", "bullmq-platform-redis-tls-secret"
    )
    assert secret.inputs["type"] == "kubernetes.io/tls"
    assert secret.inputs["metadata"]["name"] == "bullmq-platform-redis-tls"
    data = secret.inputs["stringData"]
    assert "stringData" in secret.secrets
    assert sorted(data) == ["ca.crt", "keda-client.crt", "keda-client.key", "tls.crt", "tls.key"]
    assert "MOCKCERTbullmq-platform-redis-tls-server\n" in data["tls.crt"]
    assert "MOCKCERTbullmq-platform-redis-tls-ca\n" in data["ca.crt"]
    assert "MOCKKEYbullmq-platform-redis-tls-server-key" in data["tls.key"]
    assert (
        deployment.chart.inputs["values"]["redis"]["tls"]["existingSecret"]
        == "bullmq-platform-redis-tls"
    )


def test_it_should_issue_keda_a_client_only_certificate_of_its_own() -> None:
    """KEDA authenticates to the scaling endpoint with it, never with Redis's server key."""
    deployment = deploy_stack(stack_raw("dev"))
    res = deployment.resources
    client = res.one(
        f"{TLS}locallySignedCert:LocallySignedCert", "bullmq-platform-redis-tls-keda-client"
    )
    assert "client_auth" in client.inputs["allowedUses"]
    assert "server_auth" not in client.inputs["allowedUses"]
    assert "MOCKCERTbullmq-platform-redis-tls-ca\n" in client.inputs["caCertPem"]
    csr = res.one(f"{TLS}certRequest:CertRequest", "bullmq-platform-redis-tls-keda-client-csr")
    assert "MOCKKEYbullmq-platform-redis-tls-keda-client-key" in csr.inputs["privateKeyPem"]
    assert not csr.inputs.get("dnsNames")
    data = res.one("kubernetes:core/v1:Secret", "bullmq-platform-redis-tls-secret").inputs[
        "stringData"
    ]
    assert "MOCKKEYbullmq-platform-redis-tls-keda-client-key" in data["keda-client.key"]
    assert data["keda-client.key"] != data["tls.key"]


def test_it_should_mark_the_private_key_secret_and_leave_the_ca_public() -> None:
    seen: dict[str, bool] = {}

    async def body() -> None:
        certs = RedisTls(
            "t",
            RedisTlsArgs(
                namespace="ns", secret_name="s", release="r", common_name="r", dns_names=["r"]
            ),
        )
        seen["key"] = await certs.server_key_pem.is_secret()
        seen["ca"] = await certs.ca_cert_pem.is_secret()

    run_under_mocks(body)
    assert seen == {"key": True, "ca": False}


def test_it_should_issue_nothing_for_cert_manager() -> None:
    raw = stack_raw("staging")
    raw["spec"]["redis"]["tls"] = {"source": "certManager", "certManagerIssuer": "internal-ca"}
    deployment = deploy_stack(raw, "staging")
    assert [r for r in deployment.resources.resources if r.type.startswith(TLS)] == []
    assert deployment.exports["tlsSecretName"] == "bullmq-platform-redis-tls"
