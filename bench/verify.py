"""Checks of a drained bench queue: every job completed exactly once, nothing left
waiting, active or locked, removeOnComplete honoured; and the queue's clean-up."""

from __future__ import annotations

from typing import Any

import redis

from platform_spec.keys import QUEUE_KEY_TYPES, QueueKeys

# The command that sizes a key of each type.
_SIZE_COMMAND = {"list": "llen", "set": "scard", "zset": "zcard"}


def _sizes(client: redis.Redis, keys: QueueKeys, suffixes: tuple[str, ...]) -> dict[str, int]:
    """Number of members of each named key of a queue, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for suffix in suffixes:
        getattr(pipe, _SIZE_COMMAND[QUEUE_KEY_TYPES[suffix]])(keys.key(suffix))
    return dict(zip(suffixes, pipe.execute(), strict=True))


def verify(client: redis.Redis, keys: QueueKeys, n: int, report: dict[str, Any]) -> list[str]:
    """Problems found in a drained queue (empty list: all good)."""
    problems = invocation_problems(n, report)
    left = ("wait", "active", "paused", "prioritized", "delayed", "failed", "waiting-children")
    for name, count in _sizes(client, keys, (*left, "stalled")).items():
        if count:
            problems.append(f"{count} jobs left in {name}")
    kept = {f"j{i}" for i in range(0, n, 2)}
    completed = set(client.zrange(keys.completed, 0, -1))
    if completed != kept:
        problems.append(
            f"completed set: {len(completed - kept)} unexpected, {len(kept - completed)} missing"
        )
    problems += _check_jobs(client, keys, n)
    locks = list(client.scan_iter(match=keys.lock_pattern, count=1000))
    if locks:
        problems.append(f"{len(locks)} job locks left")
    return problems


def invocation_problems(n: int, report: dict[str, Any]) -> list[str]:
    """The handler ran N times, and the real worker's metrics count every outcome.

    A reference worker counts its own processor calls; the real worker process
    is read from outside, through its /metrics: one duration observation per
    handler run, N completions, no failure.
    """
    metrics = report.get("metrics")
    if metrics is None:
        ran = report.get("invocations")
        return [] if ran == n else [f"processor ran {ran} times for {n} jobs"]
    problems = []
    wanted = {
        "bullmq_job_duration_seconds_count": n,
        "bullmq_jobs_completed_total": n,
        "bullmq_jobs_failed_total": 0,
    }
    for name, value in wanted.items():
        if metrics.get(name, 0) != value:
            problems.append(f"/metrics {name} = {metrics.get(name, 0):g}, expected {value}")
    return problems


def _check_jobs(client: redis.Redis, keys: QueueKeys, n: int) -> list[str]:
    """Kept jobs ran once and returned i; removeOnComplete jobs are gone."""
    problems = []
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        if i % 2 == 0:
            pipe.hmget(keys.job(f"j{i}"), "atm", "ats", "returnvalue")
        else:
            pipe.exists(keys.job(f"j{i}"))
    bad = 0
    for i, value in enumerate(pipe.execute()):
        if i % 2 == 0:
            if value != ["1", "1", str(i)]:
                bad += 1
        elif value:
            problems.append(f"j{i} has removeOnComplete but its hash is still there")
            break
    if bad:
        problems.append(f"{bad} kept jobs without attemptsMade=1, attemptsStarted=1, returnvalue=i")
    return problems


def queue_state(client: redis.Redis, keys: QueueKeys) -> dict[str, int]:
    """Where a stalled run left the jobs."""
    names = ("wait", "active", "delayed", "prioritized", "failed", "completed", "marker", "stalled")
    return _sizes(client, keys, names)


def delete_queue(client: redis.Redis, keys: QueueKeys) -> None:
    batch: list[str] = []
    for key in client.scan_iter(match=keys.pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)
