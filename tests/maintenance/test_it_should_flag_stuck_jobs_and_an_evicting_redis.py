"""health-check: a stuck active job, a backlog without workers and an evicting Redis are found,
stored in Redis and logged as structured alert lines; the chart's Redis is not flagged."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from scheduler_harness import make_spec, stage_job

from local_stack.redis_server import RedisServer
from workers.maintenance import run_maintenance

pytestmark = [pytest.mark.redis]


def test_it_should_flag_stuck_jobs_and_an_evicting_redis(
    redis_server: RedisServer, queue_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(queue_name, [], queue_overrides={"jobTimeoutSeconds": 120})
    now = int(time.time() * 1000)

    async def check(server: RedisServer) -> dict:
        client = aioredis.Redis(**server.connection_kwargs("worker"), decode_responses=True)
        try:
            await stage_job(
                client,
                queue_name,
                "stuck",
                state="active",
                created_ms=now - 900_000,
                processed_ms=now - 600_000,
            )
            await stage_job(
                client,
                queue_name,
                "fresh",
                state="active",
                created_ms=now - 5_000,
                processed_ms=now - 1_000,
            )
            await stage_job(client, queue_name, "waiting", state="wait", created_ms=now)
            report = await run_maintenance("health-check", {}, redis=client, spec=spec)
            stored = json.loads(await client.get("bull:_platform:health:last"))
            assert stored["at"] == report["at"]
            return report
        finally:
            await client.aclose()

    with caplog.at_level(logging.ERROR, logger="workers.maintenance.health"):
        report = asyncio.run(check(redis_server))
    mine = {f["check"] for f in report["findings"] if f["queue"] == queue_name}
    assert {"stuck_active", "backlog_without_workers"} <= mine
    assert report["queues"][queue_name]["stuck"] == 1
    assert not report["healthy"]
    checks = {f["check"] for f in report["findings"]}
    assert "eviction_policy" not in checks and report["redis"]["maxmemoryPolicy"] == "noeviction"
    assert "aof_disabled" not in checks
    alerts = [r for r in caplog.records if getattr(r, "alert", False)]
    assert any(getattr(r, "check", "") == "stuck_active" for r in alerts)

    # A second Redis whose policy was switched to an evicting one behind the spec's back.
    other = RedisServer(tmp_path / "evicting")
    other.start()
    try:
        admin = sync_redis.Redis(**other.connection_kwargs("admin"))
        admin.config_set("maxmemory-policy", "allkeys-lru")
        admin.close()
        evicting = asyncio.run(check(other))
    finally:
        other.stop()
    flagged = [f for f in evicting["findings"] if f["check"] == "eviction_policy"]
    assert flagged and "allkeys-lru" in flagged[0]["detail"]
