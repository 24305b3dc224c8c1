"""Certificates the scheduler serves and relies on: re-read on renewal, expiry measured.

Why: KEDA keeps verifying the scaling endpoint's certificate; one loaded only
at start is served until it expires, and then every queue sits at its fallback
replicas. The kubelet replaces a renewed Secret's files in place, so the
endpoint checks them at each refresh and loads a changed pair into the same
`ssl.SSLContext` (new handshakes get the new certificate, open ones go on).
The expiry of that certificate and of Redis's (read from a TLS handshake) is
exported as `bullmq_tls_certificate_expiry_timestamp_seconds` for the
`BullmqCertificateExpiresSoon` alert (README "Renewing certificates").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from pathlib import Path

from cryptography import x509

log = logging.getLogger(__name__)


def not_after(pem: bytes) -> float:
    """Expiry (Unix seconds) of the first certificate in a PEM blob."""
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


class ServingCertificate:
    """`tls.crt`/`tls.key` of a directory in a server context that follows renewals.

    With `client_ca`, clients must present a certificate signed by that CA
    (KEDA's dedicated client certificate); the bearer token is checked as well.
    """

    def __init__(self, cert_dir: Path, client_ca: Path | None = None) -> None:
        self.cert_file = cert_dir / "tls.crt"
        self.key_file = cert_dir / "tls.key"
        self.client_ca = client_ca
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.not_after: float | None = None
        self.reloads = 0
        self._seen: str | None = None
        if not self.reload():
            raise ssl.SSLError(f"cannot load the serving certificate from {cert_dir}")

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in (self.cert_file, self.key_file, self.client_ca):
            if path is not None:
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def reload(self) -> bool:
        """Load the files again if they changed; False (old pair kept) when they do not load."""
        try:
            seen = self._fingerprint()
            if seen == self._seen:
                return True
            self.context.load_cert_chain(str(self.cert_file), str(self.key_file))
            if self.client_ca is not None:
                self.context.load_verify_locations(cafile=str(self.client_ca))
            self.not_after = not_after(self.cert_file.read_bytes())
        except (OSError, ValueError, ssl.SSLError) as exc:
            # A renewal caught half-written (certificate and key do not match yet).
            log.warning("serving certificate not reloaded (retrying)", extra={"error": str(exc)})
            return False
        if self._seen is not None:
            self.reloads += 1
            log.info("serving certificate reloaded", extra={"not_after": self.not_after})
        self._seen = seen
        return True


async def peer_not_after(host: str, port: int, context: ssl.SSLContext) -> float:
    """Expiry of the certificate a TLS server presents (one handshake, nothing sent)."""
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=host), 10
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        if not der:
            raise ssl.SSLError("no peer certificate")
        return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
