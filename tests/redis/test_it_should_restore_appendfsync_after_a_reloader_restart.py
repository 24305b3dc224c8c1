"""The full-disk guard learns from Redis what it did before a restart of its container.

Regression: the reloader kept "I relaxed appendfsync to everysec" only in a shell
variable, so a reloader restarted while guarded never set `always` again: Redis ran
with up to 1 s of acknowledged writes at risk for good. Here Redis starts as a guard
left it (everysec, the disk has room again) and a fresh reloader must restore always.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from local_stack.redis_server import RedisServer, local_spec

pytestmark = pytest.mark.redis


def test_it_should_set_appendfsync_always_again_after_a_reloader_restart(
    tmp_path: Path,
) -> None:
    spec = local_spec(
        redis={
            "auth": {"adminEnabled": True},
            "persistence": {"appendfsync": "always", "diskReservePercent": 1},
        }
    )
    server = RedisServer(tmp_path / "redis", spec=spec)
    server.start()
    client = redis.Redis(**server.connection_kwargs("admin"), socket_timeout=5)
    try:
        client.config_set("appendfsync", "everysec")  # as the guard left it
        server.start_reloader(interval_seconds=1)
        started = time.monotonic()
        value = ""
        while time.monotonic() - started < 60:
            value = str(client.config_get("appendfsync")["appendfsync"])
            if value == "always":
                break
            time.sleep(0.2)  # polling pause of a bounded wait
        seconds = round(time.monotonic() - started, 2)
        log = server.reloader_log()
    finally:
        client.close()
        server.stop()
    print(f"[reloader] restarted while guarded: appendfsync={value} after {seconds} s")
    assert value == "always", log
