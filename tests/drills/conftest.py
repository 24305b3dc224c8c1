"""Fixtures of the fault drills: a private Redis for the drills that kill Redis itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.redis_server import RedisServer, local_spec

DRILL_QUEUE = {
    "name": "drill",
    "handler": "workers.handlers.background_tasks",
    "jobs": [{"name": "run"}],
    "removeOnComplete": {"count": 100},
    "removeOnFail": {"count": 100},
    "deadLetter": {"maxEntries": 100},
}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start a TLS + ACL Redis of its own (spec overrides as keyword arguments)."""
    started: list[RedisServer] = []

    def start(**redis: Any) -> RedisServer:
        # One small queue: the default catalog's retention does not fit a drill's tiny
        # maxmemory (the spec refuses it); Redis's config does not depend on the queues.
        spec = local_spec(
            redis={"auth": {"adminEnabled": True}, **redis},
            queues=[DRILL_QUEUE],
            schedules=[],
            maintenanceQueue=DRILL_QUEUE["name"],
        )
        server = RedisServer(tmp_path / f"redis-{len(started)}", spec=spec)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop(kill=True)
