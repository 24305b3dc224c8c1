"""RedisTls: a private CA and Redis's server certificate, in a kubernetes.io/tls Secret.

`tls.PrivateKey` + `tls.SelfSignedCert` make the CA; `tls.CertRequest` +
`tls.LocallySignedCert` the server certificate, with a SAN for every name a
client uses (see infra.naming.server_dns_names). Both renew when `pulumi up`
runs within `earlyRenewalHours` of expiry; a new CA re-signs the server
certificate (its input changes). Redis and the scheduler re-read renewed files
by themselves (the reloader beside Redis; scheduler/certificates.py). A third,
client-only certificate is KEDA's, for the scheduler's scaling endpoint, so KEDA
never holds the Redis server's private key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_tls as tls

from infra.labels import owned_secret
from platform_spec.stack import Certificates

KEY_ALGORITHM = "ECDSA"
KEY_CURVE = "P256"
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]
# client_auth too: Redis Cluster nodes present this certificate to each other on the
# cluster bus and to their primary (tls-cluster, tls-replication), and the bus always
# asks for it (as the chart's cert-manager Certificate allows).
SERVER_USES = ["digital_signature", "key_encipherment", "server_auth", "client_auth"]
CLIENT_USES = ["digital_signature", "key_encipherment", "client_auth"]
KEDA_CLIENT_NAME = "keda"
ORGANIZATION = "bullmq-platform"


@dataclass(frozen=True)
class RedisTlsArgs:
    """Inputs of RedisTls."""

    namespace: pulumi.Input[str]
    secret_name: str
    release: str
    common_name: str
    dns_names: list[str]
    ip_addresses: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    certificates: Certificates = field(default_factory=Certificates)
    # Secret keys of KEDA's client certificate and key (spec keda.clientCertKey/clientKeyKey).
    keda_client_keys: tuple[str, str] = ("keda-client.crt", "keda-client.key")


@dataclass(frozen=True)
class _Issuer:
    """Signs leaf certificates with the CA: a key, a CSR and a LocallySignedCert each."""

    ca_key_pem: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    certs: Certificates
    opts: pulumi.ResourceOptions

    def sign(
        self,
        name: str,
        subject: tls.CertRequestSubjectArgs,
        uses: list[str],
        dns_names: list[str] | None = None,
        ip_addresses: list[str] | None = None,
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """(certificate PEM, secret private key PEM) of a leaf named `name`."""
        key = tls.PrivateKey(
            f"{name}-key", algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE, opts=self.opts
        )
        key_pem: pulumi.Output[str] = pulumi.Output.secret(key.private_key_pem)
        request = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key_pem,
            subject=subject,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            opts=self.opts,
        )
        cert = tls.LocallySignedCert(
            name,
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=self.ca_key_pem,
            ca_cert_pem=self.ca_cert_pem,
            validity_period_hours=self.certs.server_validity_hours,
            early_renewal_hours=self.certs.early_renewal_hours,
            allowed_uses=uses,
            opts=self.opts,
        )
        return cert.cert_pem, key_pem


class RedisTls(pulumi.ComponentResource):
    """CA, server key and certificate, and the Secret (`tls.crt`, `tls.key`, `ca.crt`)."""

    TYPE = "bullmq-platform:redis:Tls"

    secret_name: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    server_cert_pem: pulumi.Output[str]
    server_key_pem: pulumi.Output[str]

    def __init__(
        self, name: str, args: RedisTlsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certs = args.certificates
        ca_key = tls.PrivateKey(
            f"{name}-ca-key", algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE, opts=child
        )
        ca_key_pem: pulumi.Output[str] = pulumi.Output.secret(ca_key.private_key_pem)
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key_pem,
            is_ca_certificate=True,
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"{args.release} Redis CA", organization=ORGANIZATION
            ),
            validity_period_hours=certs.ca_validity_hours,
            early_renewal_hours=certs.early_renewal_hours,
            allowed_uses=CA_USES,
            opts=child,
        )
        issuer = _Issuer(ca_key_pem, ca.cert_pem, certs, child)
        server_cert, server_key_pem = issuer.sign(
            f"{name}-server",
            tls.CertRequestSubjectArgs(common_name=args.common_name, organization=ORGANIZATION),
            SERVER_USES,
            dns_names=args.dns_names,
            ip_addresses=args.ip_addresses,
        )
        client_cert, client_key_pem = issuer.sign(
            f"{name}-keda-client",
            tls.CertRequestSubjectArgs(common_name=KEDA_CLIENT_NAME, organization=ORGANIZATION),
            CLIENT_USES,
        )
        self.ca_cert_pem = ca.cert_pem
        self.server_cert_pem = server_cert
        self.server_key_pem = server_key_pem
        self.secret_name = owned_secret(
            name,
            args,
            component="redis",
            secret_type="kubernetes.io/tls",
            string_data={
                "tls.crt": server_cert,
                "tls.key": server_key_pem,
                "ca.crt": ca.cert_pem,
                args.keda_client_keys[0]: client_cert,
                args.keda_client_keys[1]: client_key_pem,
            },
            opts=child,
        )
        self.register_outputs({"secretName": self.secret_name, "caCertPem": self.ca_cert_pem})
