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
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from infra.labels import labels, object_name
from platform_spec.stack import Certificates

KEY_ALGORITHM = "ECDSA"
KEY_CURVE = "P256"
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]
SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]
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
        server_key = tls.PrivateKey(
            f"{name}-server-key", algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE, opts=child
        )
        server_key_pem: pulumi.Output[str] = pulumi.Output.secret(server_key.private_key_pem)
        request = tls.CertRequest(
            f"{name}-server-csr",
            private_key_pem=server_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=args.common_name, organization=ORGANIZATION
            ),
            dns_names=args.dns_names,
            ip_addresses=args.ip_addresses,
            opts=child,
        )
        server = tls.LocallySignedCert(
            f"{name}-server",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=certs.server_validity_hours,
            early_renewal_hours=certs.early_renewal_hours,
            allowed_uses=SERVER_USES,
            opts=child,
        )
        client_key = tls.PrivateKey(
            f"{name}-keda-client-key", algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE, opts=child
        )
        client_key_pem: pulumi.Output[str] = pulumi.Output.secret(client_key.private_key_pem)
        client_request = tls.CertRequest(
            f"{name}-keda-client-csr",
            private_key_pem=client_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=KEDA_CLIENT_NAME, organization=ORGANIZATION
            ),
            opts=child,
        )
        client = tls.LocallySignedCert(
            f"{name}-keda-client",
            cert_request_pem=client_request.cert_request_pem,
            ca_private_key_pem=ca_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=certs.server_validity_hours,
            early_renewal_hours=certs.early_renewal_hours,
            allowed_uses=CLIENT_USES,
            opts=child,
        )
        self.ca_cert_pem = ca.cert_pem
        self.server_cert_pem = server.cert_pem
        self.server_key_pem = server_key_pem
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.secret_name,
                namespace=args.namespace,
                labels=labels(args.release, "redis"),
            ),
            type="kubernetes.io/tls",
            string_data={
                "tls.crt": server.cert_pem,
                "tls.key": server_key_pem,
                "ca.crt": ca.cert_pem,
                args.keda_client_keys[0]: client.cert_pem,
                args.keda_client_keys[1]: client_key_pem,
            },
            opts=child,
        )
        self.secret_name = secret.metadata.apply(object_name)
        self.register_outputs({"secretName": self.secret_name, "caCertPem": self.ca_cert_pem})
