"""Drill 3: SIGKILL Redis during a stream of acknowledged enqueues, restart, count.

Producers add jobs with known ids and note each one once Redis acknowledged it
(`Queue.add` returned). Redis is killed mid-stream (SIGKILL: no shutdown save)
and started again on the same port and data directory; it reloads its AOF.

- `appendfsync always`: Redis fsyncs the AOF before it replies, so zero
  acknowledged jobs may be missing. The drill fails on any.
- `appendfsync everysec`: Redis write()s the AOF before it replies but fsyncs
  once a second. A killed *process* loses nothing the kernel already holds, so
  this drill usually reports 0; what everysec risks is a crash of the machine
  (kernel, power, a VM killed), which a test cannot stage here: up to about one
  second of acknowledged writes (two if an fsync stalls). The drill reports the
  writes per second, i.e. what that second is worth, and bounds the loss by the
  acknowledgements of the last two seconds. See docs/local-and-drills.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
from bullmq import Queue as BullQueue
from drill_support import Figures, admin

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
PRODUCERS = 4
# Redis is killed once the stream ran this long and this many adds were acknowledged
# (or at the deadline; the test then fails on too few acknowledged adds).
KILL_AFTER_SECONDS = 3.0
KILL_AFTER_ACKS = 500
KILL_DEADLINE_SECONDS = 60.0
# Regression (redis/redis#14541; fixed upstream by #14545; Valkey: valkey-io/valkey#3983):
# on AOF load Redis 7.0-7.4 re-checks ACLs on EXEC as the `default` user. Every BullMQ
# script's effects are in the AOF as MULTI/EXEC, so with a `default` user of `-@all`
# every job written since the last AOF rewrite was dropped on ANY restart. The chart's
# ACL (helm/bullmq-platform/files/assemble-acl.sh) keeps `default` off but with full
# rights; this drill keeps it that way.


async def _stream(server: RedisServer, queue: str) -> tuple[list[tuple[str, float]], int, float]:
    """Acknowledged (id, time) pairs, attempts, and the moment Redis was killed."""
    acked: list[tuple[str, float]] = []
    attempts = 0
    killed_at = 0.0
    conn = {**server.connection_kwargs("worker"), "socket_timeout": 3}

    async def produce(p: int) -> None:
        nonlocal attempts
        queue_ = BullQueue(queue, {"connection": conn, "prefix": "bull"})
        try:
            for n in range(100_000):
                attempts += 1
                job_id = f"p{p}-{n}"
                await asyncio.wait_for(
                    queue_.add("work", {"seconds": 0}, {"jobId": job_id}), timeout=5
                )
                acked.append((job_id, time.monotonic()))
        except Exception:  # Redis went away: this producer's stream ends here
            return
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue_.close(), timeout=5)

    async def crash() -> None:
        """Kill once the stream is under way: some seconds AND some acknowledged adds
        (a count, not only a time: on a loaded machine 3 s may hold few adds)."""
        nonlocal killed_at
        started = time.monotonic()
        deadline = started + KILL_DEADLINE_SECONDS
        while time.monotonic() < deadline and (
            len(acked) < KILL_AFTER_ACKS or time.monotonic() - started < KILL_AFTER_SECONDS
        ):
            await asyncio.sleep(0.05)
        killed_at = time.monotonic()
        await asyncio.to_thread(server.stop, kill=True)

    await asyncio.gather(crash(), *(produce(p) for p in range(PRODUCERS)))
    return acked, attempts, killed_at


@pytest.mark.parametrize(
    "appendfsync",
    [
        pytest.param("always"),
        pytest.param("everysec"),
    ],
)
def test_it_should_keep_every_acknowledged_job_through_a_redis_crash(
    private_redis: Callable[..., RedisServer], queue_name: str, appendfsync: str
) -> None:
    server = private_redis(persistence={"appendfsync": appendfsync})
    conf = (server.state_dir / "conf" / "redis.conf").read_text()
    assert f"appendfsync {appendfsync}" in conf, "the chart's redis.conf must carry the policy"
    acked, attempts, killed_at = asyncio.run(_stream(server, queue_name))
    assert server.process is not None and server.process.returncode == -9
    server.start()  # same port, same data directory: Redis reloads its AOF
    client = admin(server)
    try:
        pipe = client.pipeline(transaction=False)
        for job_id, _ in acked:
            pipe.exists(f"bull:{queue_name}:{job_id}")
        found = sum(int(n) for n in pipe.execute())
        waiting = int(client.llen(f"bull:{queue_name}:wait"))
    finally:
        client.close()
    first = acked[0][1] if acked else killed_at
    rate = len(acked) / max(killed_at - first, 1e-6)
    last_two_seconds = sum(1 for _, at in acked if at >= killed_at - 2.0)
    lost = len(acked) - found
    figures = Figures(
        f"Redis SIGKILL, appendfsync {appendfsync}",
        sent=attempts,
        completed=found,
        duplicated=0,
        lost=lost,
        extra={
            "acknowledged": len(acked),
            "acknowledged_missing": lost,
            "unacknowledged_found": max(waiting - found, 0),
            "acks_per_second": round(rate),
            "acks_in_last_2s": last_two_seconds,
        },
    )
    if appendfsync == "always":
        figures.check()  # zero acknowledged jobs missing
    else:
        print(figures.report())  # everysec: reported, and bounded by ~1-2 s of writes
    assert len(acked) >= KILL_AFTER_ACKS, "the stream must be under way when Redis dies"
    assert lost <= last_two_seconds, figures.report()
