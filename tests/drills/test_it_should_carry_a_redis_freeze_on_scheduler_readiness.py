"""Drill (issue 25, item 7): a frozen Redis makes the scheduler unready, never unlive.

Redis is frozen (SIGSTOP) under a running `python -m scheduler`. Restarting the
scheduler cannot cure that, so `/healthz` (liveness) must stay 200 throughout,
while `/readyz` must turn 503 during the outage and 200 again within seconds
of Redis answering (before, both endpoints showed "last reconcile fresh":
readiness stayed 200 into the outage and liveness failed after 25 s of it).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from drill_support import drill_spec, schedulers, stop, wait_until

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill]
FROZEN_SECONDS = 6.0


def test_it_should_carry_a_frozen_redis_on_readiness_not_liveness(
    private_redis: Callable[..., RedisServer], queue_name: str, tmp_path: Path
) -> None:
    server = private_redis()
    spec = drill_spec(queue_name)
    procs = schedulers(server, spec, tmp_path, 1)
    sched = procs[0]
    assert server.process is not None
    try:
        assert wait_until(lambda: sched.probe("/readyz", timeout=3) == 200, timeout=60)
        server.process.send_signal(signal.SIGSTOP)
        try:
            unready = wait_until(lambda: sched.probe("/readyz", timeout=3) == 503, timeout=20)
            live: list[int | None] = []
            deadline = time.monotonic() + FROZEN_SECONDS
            while time.monotonic() < deadline:
                live.append(sched.probe("/healthz", timeout=3))
                time.sleep(0.5)
        finally:
            server.process.send_signal(signal.SIGCONT)
        thawed = time.monotonic()
        ready_again = wait_until(lambda: sched.probe("/readyz", timeout=3) == 200, timeout=30)
        recovery = time.monotonic() - thawed
        still_live = sched.probe("/healthz", timeout=3)
    finally:
        stop(procs)
    print(
        f"[drill] scheduler under a frozen Redis: readyz_503_during_freeze={unready}, "
        f"healthz_200={sum(1 for c in live if c == 200)}/{len(live)}, "
        f"readyz_recovery_seconds={recovery:.2f}, restarts={sched.starts - 1}"
    )
    assert unready, "readiness must carry the Redis outage"
    assert live and all(code == 200 for code in live), live
    assert ready_again and still_live == 200
