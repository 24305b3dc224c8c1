"""Shared fixtures: a real TLS-only, ACL-protected redis-server per test session.

The server is configured by the chart's own redis.conf (see
local_stack/redis_server.py), listens on an ephemeral 127.0.0.1 port, and keeps
its data, certificates and password files in a temporary folder. Tests never
flush it: each one uses its own queue name or key prefix. The machine's plain
Redis on 6379 is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from acl_guard import allow_list_denials
from containers import Containers

from local_stack.redis_server import RedisServer, local_spec


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    # KEDA's redis scaler mode: the one where the `keda` user may EVAL its length script
    # (tests/redis/test_scaling_formula.py); metricsApi's keda user can only authenticate.
    spec = local_spec(keda={"scaler": "redis"})
    server = RedisServer(tmp_path_factory.mktemp("redis"), spec=spec)
    server.start()
    assert server.port != 6379, "tests must never use the machine's plain Redis"
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def session_admin(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """One admin connection for the whole session (a TLS handshake per test is not free)."""
    client = redis.Redis(**redis_server.connection_kwargs("admin"), decode_responses=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(autouse=True)
def no_acl_denials(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which the session server refused `worker` or `scheduler` a command.

    Their ACL rules allow exactly the commands platform_spec/acl_commands.py derived:
    a code path that needs one more fails here, by name, wherever it runs (issue 25).
    Tests that provoke a refusal on purpose carry `@pytest.mark.acl_denials`.
    """
    if "redis_server" not in request.fixturenames or request.node.get_closest_marker("acl_denials"):
        yield
        return
    admin: redis.Redis = request.getfixturevalue("session_admin")
    admin.execute_command("ACL", "LOG", "RESET")
    yield
    denials = allow_list_denials(admin)
    assert not denials, f"commands refused to allow-listed users: {denials}"


@pytest.fixture
def role_client(redis_server: RedisServer) -> Iterator[Callable[[str], redis.Redis]]:
    """Make clients authenticated as an ACL user (over verified TLS); all closed after."""
    made: list[redis.Redis] = []

    def connect(role: str) -> redis.Redis:
        client = redis.Redis(**redis_server.connection_kwargs(role), decode_responses=True)
        made.append(client)
        return client

    try:
        yield connect
    finally:
        for client in made:
            client.close()


@pytest.fixture
def redis_client(role_client: Callable[[str], redis.Redis]) -> redis.Redis:
    """A client authenticated as the `worker` ACL user, over verified TLS."""
    return role_client("worker")


@pytest.fixture
def admin_client(role_client: Callable[[str], redis.Redis]) -> redis.Redis:
    return role_client("admin")


@pytest.fixture
def queue_name() -> str:
    """A fresh queue name per test, so tests share the server without flushing it."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def containers() -> Iterator[Containers]:
    """podman containers of the image tests (tests/containers.py), reaped however pytest ends."""
    runner = Containers()
    try:
        yield runner
    finally:
        runner.close()
