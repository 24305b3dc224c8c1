"""Fixtures of the worker tests: a spec with throw-away queues, settings for the
TLS + ACL test Redis (user `worker`), an in-process runtime, polling helpers,
and Node BullMQ installed from tests/node/package-lock.json.

Every test that runs a worker (it calls `running_worker` or `start_worker`)
runs once per engine (`[fast]`, `[stock]`): the whole worker suite holds on
both fetch/finish loops. `-k fast` or `-k stock` picks one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from bullmq import Job
from bullmq import Queue as BullQueue

from local_stack.lifetime import die_with_parent
from local_stack.npm import npm_ci
from local_stack.redis_server import RedisServer
from platform_spec.model import PlatformSpec
from platform_spec.settings import RedisSettings, RuntimeSettings
from workers.connection import bullmq_connection
from workers.engine_factory import DEFAULT_ENGINE, ENGINES
from workers.runtime import WorkerRuntime
from workers.settings import WorkerSettings

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE.parent / "node"
HANDLERS = "worker_test_handlers"
# The engine the current test's workers run (set by the `worker_engine` fixture).
_engine = DEFAULT_ENGINE
_WORKER_STARTERS = frozenset({"running_worker", "start_worker"})


def _starts_a_worker(code: CodeType) -> bool:
    """Whether a test's code (nested functions included) names a worker starter."""
    if _WORKER_STARTERS.intersection(code.co_names):
        return True
    return any(isinstance(c, CodeType) and _starts_a_worker(c) for c in code.co_consts)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "worker_engine" in metafunc.fixturenames and _starts_a_worker(metafunc.function.__code__):
        metafunc.parametrize("worker_engine", ENGINES, indirect=True)


@pytest.fixture(autouse=True)
def worker_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The engine (`fast` or `stock`) this test's workers run; the default when
    the test starts no worker."""
    global _engine
    engine = str(getattr(request, "param", DEFAULT_ENGINE))
    previous, _engine = _engine, engine
    try:
        yield engine
    finally:
        _engine = previous


def make_spec(queue: str, **overrides: Any) -> PlatformSpec:
    """A dev spec whose only queue is `queue`, served by the test handlers."""
    q: dict[str, Any] = {
        "name": queue,
        "handler": HANDLERS,
        "concurrency": 4,
        "attempts": 1,
        "backoff": {"type": "fixed", "delayMs": 0},
        "jobTimeoutSeconds": 20,
        "terminationGracePeriodSeconds": 30,
    }
    q.update(overrides)
    return PlatformSpec.model_validate(
        {"environment": "dev", "queues": [q], "schedules": [], "maintenanceQueue": queue}
    )


def redis_settings(server: RedisServer) -> RedisSettings:
    env = server.env("worker")
    return RedisSettings(
        host=env["BULLMQ_PLATFORM_REDIS_HOST"],
        port=int(env["BULLMQ_PLATFORM_REDIS_PORT"]),
        username="worker",
        password_file=Path(env["BULLMQ_PLATFORM_REDIS_PASSWORD_FILE"]),
        ca_file=Path(env["BULLMQ_PLATFORM_REDIS_CA_FILE"]),
        secrets_dir=HERE / "no-secrets-dir",
    )


FAST = WorkerSettings(
    lock_duration_ms=2000,
    stalled_interval_ms=1000,
    drain_delay_seconds=0.5,
    drain_margin_seconds=1,
)


@contextlib.asynccontextmanager
async def running_worker(
    server: RedisServer,
    spec: PlatformSpec,
    settings: WorkerSettings = FAST,
    queue_name: str | None = None,
) -> AsyncIterator[WorkerRuntime]:
    """An in-process worker of `queue_name` (default: the spec's first queue)."""
    runtime = WorkerRuntime(
        spec,
        queue_name or spec.queues[0].name,
        redis_settings(server),
        RuntimeSettings(http_host="127.0.0.1", http_port=0),
        settings,
        engine=_engine,
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@contextlib.asynccontextmanager
async def producer(
    server: RedisServer, name: str, prefix: str = "bull"
) -> AsyncIterator[BullQueue]:
    queue = BullQueue(
        name, {"connection": bullmq_connection(redis_settings(server)), "prefix": prefix}
    )
    try:
        yield queue
    finally:
        await queue.close()


async def wait_for(
    check: Callable[[], Awaitable[bool]], attempts: int = 200, pause: float = 0.05
) -> bool:
    """Poll `check` a bounded number of times; the caller asserts on the result."""
    for _ in range(attempts):
        if await check():
            return True
        await asyncio.sleep(pause)
    return False


async def wait_finished(queue: BullQueue, job_id: str, attempts: int = 300) -> str:
    """The job's state once completed or failed (or whatever it is when we give up)."""
    state = "unknown"

    async def finished() -> bool:
        nonlocal state
        state = await queue.getJobState(job_id)
        return state in ("completed", "failed")

    await wait_for(finished, attempts)
    return state


async def dead_letter(dlq: BullQueue, entry: str, attempts: int = 200) -> Job | None:
    """The DLQ entry once written. The worker fails the job first and dead-letters it
    from the failure hook, so the entry can lag the `failed` state: wait, bounded."""
    letter: Job | None = None

    async def written() -> bool:
        nonlocal letter
        letter = await dlq.getJob(entry)
        return letter is not None

    await wait_for(written, attempts)
    return letter


async def get_job(queue: BullQueue, job_id: str) -> Job:
    job = await queue.getJob(job_id)
    assert job is not None, f"job {job_id} vanished"
    return job


@pytest.fixture(scope="session")
def node_bullmq() -> Path:
    """tests/node with node_modules installed (`npm ci` from the committed lock)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    npm_ci(NODE_DIR, "bullmq", timeout=300)
    return NODE_DIR


@pytest.fixture
def worker_env(
    redis_server: RedisServer, tmp_path: Path
) -> Callable[[PlatformSpec], dict[str, str]]:
    """Env for a `python -m workers` subprocess: spec file, Redis, fast locks."""

    def build(spec: PlatformSpec) -> dict[str, str]:
        spec_file = tmp_path / "spec.json"
        spec_file.write_text(spec.model_dump_json(by_alias=True))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BULLMQ_PLATFORM_")}
        env.update(redis_server.env("worker"))
        env.update(
            BULLMQ_PLATFORM_SPEC_FILE=str(spec_file),
            BULLMQ_PLATFORM_HTTP_HOST="127.0.0.1",
            BULLMQ_PLATFORM_HTTP_PORT="0",
            BULLMQ_PLATFORM_LOG_FORMAT="json",
            BULLMQ_PLATFORM_REDIS_SECRETS_DIR=str(tmp_path / "no-secrets"),
            BULLMQ_PLATFORM_WORKER_LOCK_DURATION_MS="2000",
            BULLMQ_PLATFORM_WORKER_STALLED_INTERVAL_MS="1000",
            BULLMQ_PLATFORM_WORKER_DRAIN_DELAY_SECONDS="0.5",
            BULLMQ_PLATFORM_WORKER_DRAIN_MARGIN_SECONDS="1",
            PYTHONPATH=os.pathsep.join([str(HERE), str(HERE.parent.parent)]),
        )
        return env

    return build


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; whatever still runs at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(Exception):
                proc.wait(10)


def start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "workers", "--queue", queue, "--engine", _engine],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(HERE.parent.parent),
            preexec_fn=die_with_parent,  # dies with pytest, even a killed one
        )


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds
