"""Throwaway TLS material for tests and the local stack, generated at run time.

Nothing here is committed: a CA, a server certificate for the loopback names,
and a client certificate (mutual TLS), written as PEM files with 0600 keys.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of one CA's PEM files plus the server and client pairs it signed."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _builder(subject: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def generate_tls(directory: Path, *, common_name: str = "bullmq-platform-dev-ca") -> TlsFiles:
    """Write a fresh CA, a loopback server cert and a client cert into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ca_cert = (
        _builder(common_name, ca_name, ca_key.public_key(), 3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        name: str, usages: list[x509.ObjectIdentifier], sans: bool
    ) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
        key = _key()
        builder = _builder(name, ca_name, key.public_key(), 825).add_extension(
            x509.ExtendedKeyUsage(usages), critical=False
        )
        if sans:
            alt: list[x509.GeneralName] = [x509.DNSName(n) for n in LOOPBACK_NAMES]
            alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), key

    files = TlsFiles(
        ca_cert=directory / "ca.crt",
        server_cert=directory / "tls.crt",
        server_key=directory / "tls.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    # Client auth too: Redis Cluster nodes present it to each other on the cluster bus,
    # which always asks for a client certificate (infra/certificates.py does the same).
    server_pem, server_key = leaf(
        "localhost", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], sans=True
    )
    files.server_cert.write_bytes(server_pem)
    _write_key(files.server_key, server_key)
    client_pem, client_key = leaf(
        "bullmq-platform-client", [ExtendedKeyUsageOID.CLIENT_AUTH], sans=False
    )
    files.client_cert.write_bytes(client_pem)
    _write_key(files.client_key, client_key)
    return files
