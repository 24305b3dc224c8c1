"""Fixtures of the Redis tests that change a server under its feet (files, certificates)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.redis_server import RedisServer, local_spec


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A TLS + ACL redis-server of the test's own (never the shared session server)."""
    server = RedisServer(tmp_path / "redis", spec=local_spec())
    server.start()
    try:
        yield server
    finally:
        server.stop(kill=True)
