"""A renewed certificate reaches the running Redis by itself (README "Renewing certificates").

The files under a running server are replaced as the kubelet replaces a
renewed Secret (here with a new CA, the hardest case); the chart's
redis-reloader.sh makes Redis re-read them. A client that trusts only the new
CA then connects, one that trusts only the old CA is refused, and the server
process is the same one.
"""

from __future__ import annotations

import os
import shutil
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from local_stack.certs import generate_tls
from local_stack.redis_server import RedisServer

pytestmark = pytest.mark.redis


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll `check` until true or `timeout` seconds pass (bounded); the caller asserts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def _connects(server: RedisServer, ca_file: Path) -> bool:
    client = redis.Redis(
        **{**server.connection_kwargs("worker"), "ssl_ca_certs": str(ca_file)}, socket_timeout=5
    )
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError as exc:
        assert isinstance(exc.__context__, ssl.SSLError) or "certificate" in str(exc), exc
        return False
    finally:
        client.close()


def test_it_should_serve_a_renewed_certificate_and_ca_without_a_restart(
    private_server: RedisServer, tmp_path: Path
) -> None:
    server = private_server
    assert server.tls is not None and server.process is not None
    pid = server.process.pid
    old_ca = tmp_path / "old-ca.crt"
    shutil.copy(server.tls.ca_cert, old_ca)
    server.start_reloader(interval_seconds=1)
    before = redis.Redis(**server.connection_kwargs("worker"))
    assert before.ping()
    renewed = generate_tls(tmp_path / "renewed", common_name="renewed-ca")
    for new, live in (
        (renewed.server_key, server.tls.server_key),
        (renewed.server_cert, server.tls.server_cert),
        (renewed.ca_cert, server.tls.ca_cert),
    ):
        staged = live.with_name(f".{live.name}.new")
        shutil.copy(new, staged)
        os.replace(staged, live)
    assert wait_until(lambda: _connects(server, renewed.ca_cert), timeout=30), server.reloader_log()
    assert not _connects(server, old_ca), "Redis still serves the old certificate"
    assert before.ping(), "an established connection must survive the reload"
    before.close()
    assert server.process.pid == pid and server.process.poll() is None
    assert "reloaded its TLS certificate files" in server.reloader_log()
