"""health-check: Redis and every queue, stored in Redis, exported as metrics, alerts logged.

Redis: PING round trip; used memory against maxmemory (full, nearly full at
redis.producerMemoryLimitPercent, high some points before); the eviction policy
must be `noeviction`; AOF on and its last write ok. All read from `INFO`
(managed Redis and least-privilege ACL users refuse CONFIG GET).

Per queue: waiting (wait + prioritized) and failed over the alert thresholds;
active jobs older than max(alerts.stuckSeconds, the queue's job timeout), i.e.
older than any legitimate run; a backlog with no worker connected; a paused
queue; workers connected while the oldest waiting job sat longer than the
stuck threshold with nothing active (registered but not fetching).

Each finding is one structured log line (`"alert": true`) at ERROR; the whole
report goes to `<prefix>:_platform:health:last`, which the scheduler exports.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import OutOfMemoryError

from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec, Queue
from platform_spec.pod_facts import MEMORY_WARNING_MARGIN_PERCENT
from workers.maintenance.cleanup import bull_queue
from workers.memory_guard import counted_memory, fullest, node_infos, over_limit

log = logging.getLogger("workers.maintenance.health")
ACTIVE_SCAN = 1000  # active jobs inspected per queue
HEALTH_TTL_SECONDS = 86400


def finding(check: str, message: str, queue: str = "", **extra: Any) -> dict[str, Any]:
    return {"check": check, "queue": queue, "detail": message, **extra}


def memory_findings(used: int, maxmemory: int, limit_percent: int) -> list[dict[str, Any]]:
    """Full (every write refused), nearly full (producers refused), high (a warning)."""
    if not maxmemory:
        return []
    share = f"used memory {used} is {100 * used / maxmemory:.0f}% of maxmemory {maxmemory}"
    if used >= maxmemory:
        return [finding("redis_full", f"Redis is full: {share}; noeviction refuses writes")]
    if over_limit(used, maxmemory, limit_percent):
        detail = f"Redis is nearly full: {share}; producers refused at {limit_percent}%"
        return [finding("redis_nearly_full", detail)]
    if used * 100 >= maxmemory * (limit_percent - MEMORY_WARNING_MARGIN_PERCENT):
        return [finding("memory_high", f"{share}; producers refused at {limit_percent}%")]
    return []


def _worst_persistence(persistences: list[dict[str, Any]]) -> dict[str, Any]:
    """A node with AOF off, else one whose last AOF write failed, else the first."""
    off = [p for p in persistences if int(p.get("aof_enabled", 0)) != 1]
    failing = [p for p in persistences if p.get("aof_last_write_status") not in (None, "ok")]
    return (off or failing or persistences)[0]


async def check_redis(
    redis: aioredis.Redis, limit_percent: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    started = time.perf_counter()
    await redis.ping()
    rtt = time.perf_counter() - started
    memories = await node_infos(redis, "memory")
    persistences = await node_infos(redis, "persistence")
    memory = fullest(memories)
    # On a cluster: the first node whose policy is not noeviction, else any (all alike).
    policies = [str(m.get("maxmemory_policy", "")) for m in memories]
    policy = next((p for p in policies if p != "noeviction"), policies[0])
    persistence = _worst_persistence(persistences)
    used, maxmemory = counted_memory(memory), int(memory.get("maxmemory", 0))
    facts = {
        "pingSeconds": rtt,
        "usedMemory": used,
        "maxmemory": maxmemory,
        "maxmemoryPolicy": policy,
        "aofEnabled": int(persistence.get("aof_enabled", 0)) == 1,
        "aofLastWriteStatus": persistence.get("aof_last_write_status"),
        "nodes": len(memories),
    }
    findings = []
    if policy != "noeviction":
        findings.append(
            finding("eviction_policy", f"maxmemory-policy is {policy!r}: BullMQ needs noeviction")
        )
    findings += memory_findings(used, maxmemory, limit_percent)
    if not facts["aofEnabled"]:
        findings.append(finding("aof_disabled", "AOF persistence is off"))
    elif facts["aofLastWriteStatus"] not in (None, "ok"):
        findings.append(finding("aof_write", f"last AOF write: {facts['aofLastWriteStatus']}"))
    return facts, findings


async def _job_times(
    redis: aioredis.Redis, keys: QueueKeys, ids: list[str], field: str
) -> list[int]:
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(keys.job(job_id), field)
        values = await pipe.execute()
    return [int(v) for v in values if v]


async def check_queue(
    redis: aioredis.Redis, spec: PlatformSpec, queue: Queue, workers: int, now_ms: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    alerts = spec.monitoring.alerts
    stuck_after_ms = max(alerts.stuck_seconds, queue.job_timeout_seconds) * 1000
    backlog = failed = active = stuck = 0
    paused = True
    oldest_age_ms = 0
    # A partitioned queue's partitions, added up (one BullMQ queue otherwise).
    for keys in spec.partition_keys(queue.name):
        async with redis.pipeline(transaction=True) as pipe:
            pipe.llen(keys.wait)
            pipe.zcard(keys.prioritized)
            pipe.zcard(keys.failed)
            pipe.lrange(keys.active, 0, ACTIVE_SCAN - 1)
            pipe.hexists(keys.meta, "paused")
            pipe.lindex(keys.wait, -1)  # oldest: BullMQ LPUSHes new jobs
            wait, prioritized, part_failed, active_ids, part_paused, oldest = await pipe.execute()
        started = await _job_times(redis, keys, list(active_ids), "processedOn")
        stuck += sum(1 for t in started if now_ms - t > stuck_after_ms)
        backlog += int(wait) + int(prioritized)
        failed += int(part_failed)
        active += len(active_ids)
        paused = paused and bool(part_paused)
        if oldest:
            created = await _job_times(redis, keys, [oldest], "timestamp")
            oldest_age_ms = max(oldest_age_ms, now_ms - created[0] if created else 0)
    facts = {
        "waiting": backlog,
        "failed": int(failed),
        "active": active,
        "stuck": stuck,
        "paused": bool(paused),
        "workers": workers,
        "oldestWaitingSeconds": oldest_age_ms / 1000,
    }
    q, out = queue.name, []
    if backlog > alerts.waiting_threshold:
        out.append(finding("waiting_high", f"{backlog} waiting > {alerts.waiting_threshold}", q))
    if int(failed) > alerts.failed_threshold:
        out.append(finding("failed_high", f"{failed} failed > {alerts.failed_threshold}", q))
    if stuck:
        out.append(
            finding("stuck_active", f"{stuck} active longer than {stuck_after_ms // 1000}s", q)
        )
    if paused:
        out.append(finding("paused", "queue is paused", q))
    if backlog and workers == 0 and not paused:
        out.append(finding("backlog_without_workers", f"{backlog} waiting, no worker", q))
    if workers > 0 and not paused and not active and oldest_age_ms > alerts.stuck_seconds * 1000:
        out.append(
            finding(
                "workers_not_fetching",
                f"{workers} workers connected, nothing active, oldest waiting job "
                f"{oldest_age_ms // 1000}s old",
                q,
            )
        )
    return facts, out


async def worker_counts(redis: aioredis.Redis, spec: PlatformSpec) -> dict[str, int] | None:
    """Connected bullmq workers per queue from CLIENT LIST (None if the server refuses it)."""
    counts: dict[str, int] = {}
    for queue in spec.queues:
        # A partitioned queue's worker consumes every partition: count those of the first.
        first = queue.partition_names[0]
        try:
            workers = await bull_queue(redis, spec, first).get_workers()
        except Exception as exc:  # managed Redis may refuse CLIENT LIST
            log.warning("cannot list workers", extra={"error": str(exc)})
            return None
        counts[queue.name] = sum(1 for w in workers if w.get("name") == first)
    return counts


async def health_check(
    redis: aioredis.Redis, spec: PlatformSpec, payload: dict[str, Any]
) -> dict[str, Any]:
    now = time.time()
    redis_facts, findings = await check_redis(redis, spec.redis.producer_memory_limit_percent)
    workers = await worker_counts(redis, spec)
    queues: dict[str, Any] = {}
    for queue in spec.queues:
        n = -1 if workers is None else workers.get(queue.name, 0)
        # n = -1: worker count unknown, so no worker-based findings.
        facts, found = await check_queue(redis, spec, queue, n, int(now * 1000))
        queues[queue.name] = facts
        findings += found
    report = {
        "at": now,
        "healthy": not findings,
        "redis": redis_facts,
        "queues": queues,
        "findings": findings,
    }
    for item in findings:
        log.error("platform unhealthy", extra={"alert": True, **item})
    try:
        await redis.set(spec.platform_keys().health, json.dumps(report), ex=HEALTH_TTL_SECONDS)
    except OutOfMemoryError:
        # Full to the brim: the findings above are logged; the report cannot be stored.
        log.error("health report not stored: Redis is full", extra={"alert": True})
    return report


async def last_health(redis: aioredis.Redis, spec: PlatformSpec) -> dict[str, Any] | None:
    """The stored report of the last health check, or None."""
    raw = await redis.get(spec.platform_keys().health)
    return json.loads(raw) if raw else None
