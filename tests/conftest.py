"""Shared fixtures: a real TLS-only, ACL-protected redis-server per test session.

The server is configured by the chart's own redis.conf (see
local_stack/redis_server.py), listens on an ephemeral 127.0.0.1 port, and keeps
its data, certificates and password files in a temporary folder. Tests never
flush it: each one uses its own queue name or key prefix. The machine's plain
Redis on 6379 is never touched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from acl_guard import allow_list_denials
from containers import Containers
from xdist.scheduler import LoadScopeScheduling

from local_stack.lifetime import die_with_parent
from local_stack.redis_server import PORT_SLICE_ENV, RedisServer, local_spec

TESTS = Path(__file__).resolve().parent
# `scripts/test` runs the suite in two processes (xdist, loadscope; PYTEST_WORKERS=N).
# Each process takes whole groups: a test module by default, so its module fixtures are
# made once; these folders whole, because their session fixtures are costly (the images,
# the 6-node cluster, the dashboard's board, the runtime venv) or their drills would
# otherwise compete with each other for the machine.
WHOLE_FOLDERS = frozenset({"image", "dashboard", "redis_cluster", "sentinel", "bench"})
# Folders whose groups start first, longest first (measured with --durations), so that
# the run does not end on one long drill while the other process idles.
LONG_FIRST = ("drills", "dashboard", "image", "redis_cluster", "sentinel", "monitoring")


def group_of(nodeid: str) -> str:
    """The group of a test (`tests/<folder>/<module>.py::<name>`) one process runs whole."""
    parts = nodeid.split("::", 1)[0].split("/")
    if len(parts) > 2 and parts[1] in WHOLE_FOLDERS:
        return "/".join(parts[:2])
    return "/".join(parts)


class GroupScheduling(LoadScopeScheduling):
    """xdist's loadscope with the groups above, in collection order (LONG_FIRST)."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        config.option.loadscopereorder = False  # keep LONG_FIRST, not the tests' count
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> GroupScheduling | None:
    return GroupScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


def pytest_configure(config: pytest.Config) -> None:
    """A parallel worker dies with the pytest that started it (an orphaned worker would run
    its drills on; their processes die with the worker, local_stack/lifetime.py), and
    takes its own slice of listening ports (local_stack.free_port)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... under xdist
    if worker is not None:
        die_with_parent()
        count = os.environ["PYTEST_XDIST_WORKER_COUNT"]
        os.environ[PORT_SLICE_ENV] = f"{worker.removeprefix('gw')}/{count}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LONG_FIRST folders first; the rest, and the order inside a folder, as collected."""

    def rank(item: pytest.Item) -> int:
        folder = item.path.relative_to(TESTS).parts[0]
        return LONG_FIRST.index(folder) if folder in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)


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
