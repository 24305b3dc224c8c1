"""Drill (issue 25, item 4): an endless Lua script from an ordinary credential.

`EVAL 'while true do end' 0` as the `worker` user used to leave Redis answering
BUSY to every client until an admin (off by default) ran SCRIPT KILL. The
scheduler's watchdog (scheduler/watchdog.py) must kill it within seconds of
Redis's busy threshold, count it, log it, and Redis must serve again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis
from drill_support import drill_spec, schedulers, stop, wait_until

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill]
BUSY_THRESHOLD_SECONDS = 5.0  # Redis's busy-reply-threshold default, kept by the chart


def test_it_should_kill_an_endless_script_sent_with_the_worker_password(
    private_redis: Callable[..., RedisServer], queue_name: str, tmp_path: Path
) -> None:
    server = private_redis()
    (sched,) = schedulers(server, drill_spec(queue_name), tmp_path, 1)
    outcome: dict[str, object] = {}
    attacker = redis.Redis(**server.connection_kwargs("worker"), socket_timeout=60)
    probe = redis.Redis(**server.connection_kwargs("worker"), socket_timeout=5)

    def attack() -> None:
        started = time.monotonic()
        try:
            attacker.eval("while true do end", 0)
        except redis.exceptions.ResponseError as exc:
            outcome["error"] = str(exc)
        outcome["seconds"] = time.monotonic() - started

    try:
        assert wait_until(lambda: sched.probe("/readyz", timeout=3) == 200, timeout=60)
        thread = threading.Thread(target=attack, daemon=True)
        thread.start()
        thread.join(BUSY_THRESHOLD_SECONDS + 20)
        serving = wait_until(lambda: _pings(probe), timeout=10)
        metrics = httpx.get(sched.url("/metrics"), timeout=5).text
        logs = sched.log_file.read_text(errors="replace")
    finally:
        stop([sched])
        attacker.close()
        probe.close()
    killed = [
        line
        for line in metrics.splitlines()
        if line.startswith('bullmq_scheduler_scripts_killed_total{outcome="killed"}')
    ]
    print(
        f"[drill] runaway script: killed_after_seconds={outcome.get('seconds', 'never'):.4}, "
        f"error={str(outcome.get('error'))[:60]!r}, metric={killed}, redis_serving={serving}"
        if "seconds" in outcome
        else f"[drill] runaway script: never killed, metric={killed}"
    )
    assert "seconds" in outcome, "the endless script was never killed"
    assert "killed" in str(outcome.get("error", "")).lower(), outcome
    assert float(str(outcome["seconds"])) < BUSY_THRESHOLD_SECONDS + 5, outcome
    assert serving, "Redis must serve again after the kill"
    assert killed and not killed[0].endswith(" 0.0"), metrics
    assert "runaway script killed" in logs


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False
