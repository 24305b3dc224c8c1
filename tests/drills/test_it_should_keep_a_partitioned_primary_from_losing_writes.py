"""Sentinel drills without a kill of the primary process: a frozen primary, a lost
replica and Sentinel, and what `WAIT` costs.

- Cut the primary off at the spec's defaults: one replica frozen (its link stays open
  and silent, as in a real partition), the other replica and every Sentinel locked
  out. The old primary must refuse writes before a replica is promoted: nothing it
  acknowledges after the promotion (which the failover discards) is allowed.
- SIGSTOP the primary past the failover (a partitioned old primary), then SIGCONT.
  A client still connected to it must not get a write acknowledged that the
  failover then discards (min-replicas-to-write refuses it: NOREPLICAS), and the
  old primary rejoins as a replica of the new one, holding its writes.
- SIGKILL a replica and a Sentinel while jobs stream: no failover, nothing lost.
- Enqueues per second with and without `WAIT 1`, alternating in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from bullmq import Queue as BullQueue
from drill_support import Figures, counts, drill_spec, runs, stop, wait_until, work_runs, workers
from test_it_should_fail_over_to_a_replica_without_losing_jobs import admin_of, settings

from local_stack.sentinel_cluster import SentinelCluster, sentinel_spec
from platform_spec.sections.redis_sentinel import Sentinel
from workers.connection import connect
from workers.replication_ack import wait_replicas

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
# The freeze: a replica silent for more than this no longer counts for min-replicas-to-write.
MAX_LAG_SECONDS = 1
STREAM_JOBS = 2000
COST_JOBS = 1000


def _cluster(tmp_path: Path, **sentinel: int) -> Iterator[SentinelCluster]:
    sentinels = SentinelCluster(tmp_path / "redis", spec=sentinel_spec(sentinel=sentinel))
    sentinels.start()
    try:
        yield sentinels
    finally:
        sentinels.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    yield from _cluster(tmp_path)


@pytest.fixture
def short_lag_cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    """A replica silent over 1 s stops counting: the frozen primary's replicas drop out
    at its first replication tick after SIGCONT. (On a loaded machine so short a lag
    can refuse writes now and then: the other drills keep the chart's default.)"""
    yield from _cluster(tmp_path, minReplicasMaxLagSeconds=MAX_LAG_SECONDS)


def test_it_should_refuse_writes_on_a_frozen_old_primary_and_rejoin_it_as_a_replica(
    short_lag_cluster: SentinelCluster,
) -> None:
    cluster = short_lag_cluster
    old = cluster.primary()
    stale = admin_of(old)  # a client cut off with the old primary: it never asks Sentinel
    stale.ping()
    started = time.monotonic()
    cluster.kill_primary(signal.SIGSTOP)
    promoted = wait_until(lambda: cluster.primary_port() not in (None, old.port), timeout=60)
    new = cluster.primary()
    fresh = admin_of(new)
    # The new primary takes writes once a replica follows it (min-replicas-to-write 1).
    writable = wait_until(lambda: _set(fresh, "drill:after-failover", "new") is True, timeout=60)
    failover_seconds = round(time.monotonic() - started, 2)
    assert old.process is not None
    old.process.send_signal(signal.SIGCONT)
    accepted = refused = 0
    errors: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and cluster.role(old) != "slave":
        result = _set(stale, f"drill:stale:{accepted + refused}", "old")
        if result is True:
            accepted += 1
        else:
            refused += 1
            errors.add(str(result).split(" ")[0])
    rejoined = wait_until(lambda: cluster.role(old) == "slave", timeout=60)
    synced = wait_until(lambda: _get(admin_of(old), "drill:after-failover") == "new", timeout=60)
    kept = sum(1 for n in range(accepted + refused) if fresh.exists(f"drill:stale:{n}"))
    stale.close()
    fresh.close()
    print(
        f"[drill] Sentinel, SIGSTOP primary past failover then SIGCONT: failover_seconds="
        f"{failover_seconds}, stale_writes_accepted={accepted}, stale_writes_refused={refused}"
        f" ({', '.join(sorted(errors))}), rejoined_as_replica={rejoined}, synced={synced}, "
        f"stale_writes_on_new_primary={kept}"
    )
    assert promoted and writable, "no replica was promoted while the primary was frozen"
    assert refused > 0, "no stale write was attempted on the old primary"
    assert accepted == 0, "the partitioned old primary acknowledged writes the failover discards"
    assert kept == accepted, "a write the old primary acknowledged is missing on the new one"
    assert rejoined and synced, "the old primary did not rejoin as a replica of the new one"


@pytest.fixture
def default_lag_cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    """down-after and min-replicas-max-lag exactly as the spec's defaults set them."""
    defaults = Sentinel()
    yield from _cluster(
        tmp_path,
        downAfterMilliseconds=defaults.down_after_milliseconds,
        minReplicasMaxLagSeconds=defaults.min_replicas_max_lag_seconds,
    )


def _cut_off(client: redis.Redis, replica: redis.Redis) -> None:
    """Lock the Sentinels and one replica out of a node (new passwords, links dropped), as
    across a network partition. Only that replica's link is dropped: the other (frozen)
    replica keeps an open, silent link, which min-replicas-max-lag still counts."""
    link = replica.client_list(_type="master")[0]["laddr"]  # the replica's end of its link
    for user in ("replication", "sentinel"):
        client.execute_command("ACL", "SETUSER", user, "resetpass", ">partitioned-away")
    client.execute_command("CLIENT", "KILL", "USER", "sentinel")
    client.execute_command("CLIENT", "KILL", "ADDR", link)


def _heal(client: redis.Redis, passwords: dict[str, str]) -> None:
    """Give the users their passwords back; drop the Sentinels' links, which stayed open
    but unauthenticated (Sentinel keeps a link that answers, even with NOAUTH). A link
    whose AUTH failed during the cut is not the `sentinel` user's but `default`'s (off,
    so nothing else is logged in as it): on a slow machine a Sentinel reconnected while
    the password was wrong and kept that link past the heal, never re-authenticating."""
    for user in ("replication", "sentinel"):
        client.execute_command("ACL", "SETUSER", user, "resetpass", f">{passwords[user]}")
    for user in ("sentinel", "default"):
        client.execute_command("CLIENT", "KILL", "USER", user)


def test_it_should_refuse_writes_on_a_cut_off_old_primary_before_the_failover(
    default_lag_cluster: SentinelCluster,
) -> None:
    cluster = default_lag_cluster
    old = cluster.primary()
    frozen, cut = (n for n in cluster.nodes if n.port != old.port)
    stale = admin_of(old)  # a client on the old primary's side of the partition
    stale.ping()
    cut_client = admin_of(cut)
    assert frozen.process is not None
    frozen.process.send_signal(signal.SIGSTOP)  # its replica link stays open and silent
    started = time.monotonic()
    _cut_off(stale, cut_client)
    cut_client.close()
    errors: set[str] = set()
    accepted_at: dict[int, float] = {}
    refused = attempted_after = 0
    promoted_at: float | None = None
    deadline = started + 120
    n = 0
    # Write until the promotion is seen and 50 more stale writes were tried after it.
    while time.monotonic() < deadline and attempted_after < 50:
        if promoted_at is None and cluster.primary_port() not in (None, old.port):
            promoted_at = time.monotonic()
        result = _set(stale, f"drill:cut:{n}", "old")
        if promoted_at is not None:
            attempted_after += 1
        if result is True:
            accepted_at[n] = time.monotonic()
        else:
            refused += 1
            errors.add(str(result).split(" ")[0])
        n += 1
    frozen.process.send_signal(signal.SIGCONT)
    promoted = promoted_at is not None
    after = [k for k, at in accepted_at.items() if promoted_at is not None and at >= promoted_at]
    last_accept = round(max(accepted_at.values(), default=started) - started, 2)
    # Heal the partition: the Sentinels turn the old primary into a replica of the new one.
    _heal(stale, cluster.nodes[0].passwords)
    stale.close()
    rejoined = wait_until(lambda: cluster.role(old) == "slave", timeout=120)
    new = cluster.primary()
    fresh = admin_of(new)
    writable = wait_until(lambda: _set(fresh, "drill:after-cut", "new") is True, timeout=60)
    kept = sum(1 for k in after if fresh.exists(f"drill:cut:{k}"))
    fresh.close()
    print(
        f"[drill] Sentinel, old primary cut off at the spec defaults (down-after "
        f"{cluster.spec.redis.sentinel.down_after_milliseconds} ms, max-lag "
        f"{cluster.spec.redis.sentinel.min_replicas_max_lag_seconds} s): promoted_after_s="
        f"{round((promoted_at or started) - started, 2)}, stale_writes_sent={n}, "
        f"accepted={len(accepted_at)} (last at {last_accept} s), refused={refused} "
        f"({', '.join(sorted(errors))}), "
        f"sent_after_promotion={attempted_after}, accepted_after_promotion={len(after)}, "
        f"kept_of_those={kept}, lost={len(after) - kept}, rejoined_as_replica={rejoined}, "
        f"new_primary_writable={writable}"
    )
    assert promoted, "no replica was promoted while the primary was cut off"
    assert len(after) - kept == 0, "the cut-off primary acknowledged writes the failover lost"
    assert attempted_after > 0 and refused > 0, "no stale write was attempted after the cut"
    assert rejoined and writable, "the old primary did not rejoin as a replica"


def _set(client: redis.Redis, key: str, value: str) -> bool | str:
    try:
        return bool(client.set(key, value))
    except redis.RedisError as err:
        return str(err) or type(err).__name__


def _get(client: redis.Redis, key: str) -> str | None:
    try:
        value = client.get(key)
        return None if value is None else str(value)
    except redis.RedisError:
        return None
    finally:
        client.close()


def test_it_should_carry_on_when_a_replica_and_a_sentinel_die(
    cluster: SentinelCluster, queue_name: str, tmp_path: Path
) -> None:
    primary = cluster.primary()
    spec = drill_spec(queue_name)
    extra = cluster.sentinel_env()
    procs = workers(primary, spec, tmp_path, 2, extra_env=extra)
    replica = next(n for n in cluster.nodes if n.port != primary.port)
    sentinel = cluster.sentinels[-1]
    client = admin_of(primary)
    try:
        kwargs = settings(cluster).redis_kwargs()

        async def stream() -> None:
            producer = BullQueue(queue_name, {"connection": connect(kwargs), "prefix": "bull"})
            try:
                for start in range(0, STREAM_JOBS, 100):
                    batch = [
                        {"name": "work", "data": {"seconds": 0}, "opts": {"jobId": f"j{n}"}}
                        for n in range(start, start + 100)
                    ]
                    await producer.addBulk(batch)
                    if start == STREAM_JOBS // 2:
                        assert replica.process is not None
                        replica.process.kill()
                        sentinel.stop(kill=True)
            finally:
                await producer.close()

        asyncio.run(stream())
        expected = {f"j{n}" for n in range(STREAM_JOBS)}
        done = wait_until(lambda: expected <= runs(client, queue_name).done, timeout=300)
        seen = work_runs(runs(client, queue_name))
        left = counts(client, queue_name)
        still_primary = cluster.primary_port() == primary.port
        kept = all(p.running for p in procs)
    finally:
        stop(procs)
        client.close()
    figures = Figures(
        "Sentinel, kill -9 a replica and a Sentinel while jobs stream",
        sent=STREAM_JOBS,
        completed=len(seen.done),
        duplicated=seen.duplicated,
        lost=len(expected - seen.done),
        extra={"stuck_active": left["active"], "no_failover": still_primary, "kept": kept},
    )
    figures.check()
    assert done and seen.duplicated == 0 and left["active"] == 0, figures.report()
    assert still_primary, "losing a replica and a Sentinel must not move the primary"
    assert kept


def test_it_should_report_what_waiting_for_a_replica_costs(
    cluster: SentinelCluster, queue_name: str
) -> None:
    kwargs = settings(cluster).redis_kwargs()
    rates: dict[int, list[float]] = {0: [], 1: []}

    async def measure() -> None:
        client = connect(kwargs, decode_responses=True, single_connection_client=True)
        producer = BullQueue(queue_name, {"connection": client, "prefix": "bull"})
        try:
            for round_ in range(2):
                for wait in (0, 1):
                    started = time.perf_counter()
                    for n in range(COST_JOBS):
                        job_id = f"r{round_}-w{wait}-{n}"
                        await producer.add("work", {"seconds": 0}, {"jobId": job_id})
                        await wait_replicas(client, wait, 1000)
                    rates[wait].append(COST_JOBS / (time.perf_counter() - started))
        finally:
            with contextlib.suppress(Exception):
                await producer.close()

    asyncio.run(measure())
    without, with_wait = (round(sum(r) / len(r)) for r in (rates[0], rates[1]))
    print(
        f"[drill] Sentinel, enqueue cost of WAIT 1 (one producer, sequential adds, same run): "
        f"without={without}/s, with={with_wait}/s, "
        f"rounds={ {k: [round(x) for x in v] for k, v in rates.items()} }"
    )
    client = admin_of(cluster.primary())
    try:
        assert int(client.llen(f"bull:{queue_name}:wait")) == 4 * COST_JOBS
    finally:
        client.close()
