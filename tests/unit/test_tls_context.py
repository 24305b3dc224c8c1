"""redis-py's TLS contexts in a worker: one per settings, the platform CA only, rebuilt on renewal.

Why: redis-py loaded the system CA bundle for every connection it opened (tens
of ms of CPU each, two before a worker's first job; docs/throughput.md).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from redis.asyncio.connection import RedisSSLContext

from local_stack.certs import generate_tls
from workers import connection  # noqa: F401  (installs workers.tls_context)


def test_it_should_share_one_context_trusting_only_the_given_ca(tmp_path: Path) -> None:
    tls = generate_tls(tmp_path)
    ca = str(tls.ca_cert)
    first = RedisSSLContext(ca_certs=ca, cert_reqs="required").get()
    second = RedisSSLContext(ca_certs=ca, cert_reqs="required").get()
    assert first is second
    assert first.verify_mode == ssl.CERT_REQUIRED
    assert first.cert_store_stats()["x509_ca"] == 1  # no system bundle

    # A renewed CA file (cert-manager rewrites it in place) gets a new context.
    stat = os.stat(ca)
    os.utime(ca, (stat.st_atime, stat.st_mtime + 10))
    assert RedisSSLContext(ca_certs=ca, cert_reqs="required").get() is not first

    # Other settings, another context; no CA given: the system bundle, as redis-py does.
    loose = RedisSSLContext(ca_certs=ca, cert_reqs="none").get()
    assert loose is not first and loose.verify_mode == ssl.CERT_NONE
    assert RedisSSLContext(cert_reqs="required").get() is not first
