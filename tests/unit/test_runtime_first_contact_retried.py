"""A failover between the worker's first PING and its first writes (the queue's rate
limit) is retried like an unreachable Redis, not a crash: the drill that kills the
primary while workers start saw a worker exit with a traceback there
(tests/drills/test_it_should_fail_over_to_a_replica_without_losing_jobs.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bench.subjects import bench_spec
from platform_spec.settings import RedisSettings, RuntimeSettings
from workers import runtime as runtime_module
from workers.runtime import WorkerRuntime


class ResetOnce:
    """PING answers; the first HMGET (the rate limit's read) meets a reset connection."""

    def __init__(self) -> None:
        self.hmgets = 0

    async def ping(self) -> bool:
        return True

    async def hmget(self, key: str, *fields: str) -> list[Any]:
        self.hmgets += 1
        if self.hmgets == 1:
            raise RedisConnectionError("Error while reading: (104, 'Connection reset by peer')")
        return [None] * len(fields)


def test_it_should_retry_a_redis_lost_between_the_ping_and_the_rate_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing here connects; should that change, it must not reach a real Redis.
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_PORT", "1")
    monkeypatch.setattr(runtime_module, "STARTUP_RETRY_FIRST_DELAY_SECONDS", 0.01)
    rt = WorkerRuntime(bench_spec("q", 1), "q", RedisSettings(), RuntimeSettings())
    redis = ResetOnce()
    rt.redis = redis  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="workers.runtime"):
        asyncio.run(rt.wait_for_redis())
    assert redis.hmgets == 2  # the rate limit was read again, and start-up went on
    retries = [r for r in caplog.records if r.getMessage() == "redis unreachable, retrying"]
    assert len(retries) == 1 and "reset by peer" in str(getattr(retries[0], "error", ""))
