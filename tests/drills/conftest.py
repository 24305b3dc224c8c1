"""Fixtures of the fault drills: a private Redis for the drills that kill Redis itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.redis_server import RedisServer, local_spec


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start a TLS + ACL Redis of its own (spec overrides as keyword arguments)."""
    started: list[RedisServer] = []

    def start(**redis: Any) -> RedisServer:
        spec = local_spec(redis={"auth": {"adminEnabled": True}, **redis})
        server = RedisServer(tmp_path / f"redis-{len(started)}", spec=spec)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop(kill=True)
