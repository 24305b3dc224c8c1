"""Reconcile the spec's schedules with BullMQ's job schedulers in Redis.

One pass (`Registrar.reconcile`):

1. take the leader lock (`SET NX PX`), so replicas never upsert at the same
   time (bullmq has had duplicate-next-job bugs on concurrent upserts,
   taskforcesh/bullmq#2988, #3272, #3262);
2. for each declared, enabled schedule: create it if missing, update it if the
   spec changed (fingerprint) or someone edited it by hand, otherwise leave it
   alone -- an upsert is never issued "just in case", because an upsert while
   the tick's job waits in `wait` replaces that tick with the next one;
3. verify that each unchanged schedule still has its next job (delayed,
   waiting, prioritized or active); if not (the chain broke: a worker died
   between fetching a tick and materializing the next, Redis restored without
   it, remove then re-add as in #3063) add the tick after the one it points at,
   guarded as a worker's add is (workers/next_tick.py: never a second job for
   a tick, even when the chain moved on meanwhile) and count a repair;
4. remove schedules this stack registered and no longer declares (or declares
   disabled); leave everybody else's alone.

Ownership is a hash under the platform prefix (platform_spec/keys.py) mapping
`<queue>/<id>` to the fingerprint this stack registered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import redis.asyncio as aioredis
from bullmq import Queue

from platform_spec.cron import next_fires
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from scheduler.schedules import (
    DeclaredSchedule,
    declared_schedules,
    owned_field,
    split_owned_field,
    stack_owner,
)
from workers.connection import bullmq_connection_arg, connect
from workers.cron import patch_bullmq_cron
from workers.next_tick import add_next_tick, tick_job_id

# A next job may be due this much later than the schedule allows (clock jitter).
NEXT_SLACK_MS = 1000

log = logging.getLogger("scheduler.register")

# The lock outlives a pass by far (a pass is a few round trips per schedule);
# a replica killed while holding it delays the others by at most this much.
LOCK_TTL_MS = 10_000
LOCK_WAIT_SECONDS = 15.0
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class ReconcileReport:
    """What one pass did; `as_dict()` is what `--json`, logs and /healthz show."""

    at: float = 0.0
    lock_acquired: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    repaired: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    next_fire_ms: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.lock_acquired and not self.errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Registrar:
    """Holds the connections of one scheduler process and runs reconcile passes."""

    def __init__(
        self,
        spec: PlatformSpec,
        redis_kwargs: dict[str, Any],
        *,
        lock_ttl_ms: int = LOCK_TTL_MS,
        lock_wait_seconds: float = LOCK_WAIT_SECONDS,
    ) -> None:
        patch_bullmq_cron()
        self.spec = spec
        self.owner = stack_owner(spec)
        self.keys = spec.platform_keys()
        self.lock_ttl_ms = lock_ttl_ms
        self.lock_wait_seconds = lock_wait_seconds
        self._redis_kwargs = dict(redis_kwargs)
        self.redis: aioredis.Redis = connect(self._redis_kwargs, decode_responses=True)
        self._queues: dict[str, Queue] = {}

    def queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(
                name,
                {
                    "connection": bullmq_connection_arg(self._redis_kwargs),
                    "prefix": self.spec.queue_prefix(name),
                },
            )
        return self._queues[name]

    async def close(self) -> None:
        for queue in self._queues.values():
            await queue.close()
        self._queues.clear()
        await self.redis.aclose()

    # ------------------------------------------------------------ leader lock

    async def _acquire(self, token: str) -> bool:
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            if await self.redis.set(self.keys.scheduler_lock, token, nx=True, px=self.lock_ttl_ms):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05 + secrets.randbelow(100) / 1000)

    async def _release(self, token: str) -> None:
        await self.redis.eval(_RELEASE, 1, self.keys.scheduler_lock, token)

    # ------------------------------------------------------------ one pass

    async def reconcile(self) -> ReconcileReport:
        """One reconcile pass under the leader lock; never raises for one bad schedule."""
        report = ReconcileReport(at=time.time())
        token = secrets.token_hex(16)
        if not await self._acquire(token):
            log.warning("reconcile skipped: another replica holds the lock")
            return report
        report.lock_acquired = True
        try:
            await self._reconcile(report)
        finally:
            await self._release(token)
        return report

    async def _reconcile(self, report: ReconcileReport) -> None:
        owned_key = self.keys.owned(self.owner)
        # The client decodes replies (decode_responses=True): keys and values are str.
        owned = cast(dict[str, str], await self.redis.hgetall(owned_key))
        declared = declared_schedules(self.spec)
        wanted = {d.owned_field for d in declared if d.enabled}
        for decl in declared:
            try:
                if decl.enabled:
                    await self._ensure(decl, owned.get(decl.owned_field), report)
                else:
                    await self._remove(decl.queue, decl.id, report)
            except Exception as exc:  # one schedule's failure must not stop the others
                log.exception("schedule %s failed to reconcile", decl.id)
                report.errors[decl.id] = f"{type(exc).__name__}: {exc}"
        for stale in sorted(set(owned) - wanted):
            queue, schedule_id = split_owned_field(stale)
            if schedule_id in {d.id for d in declared if d.queue == queue}:
                continue  # declared disabled: handled above
            try:
                await self._remove(queue, schedule_id, report)
            except Exception as exc:
                report.errors[schedule_id] = f"{type(exc).__name__}: {exc}"
        await self._list_foreign(declared, set(owned) | wanted, report)

    async def _ensure(
        self, decl: DeclaredSchedule, owned_fp: str | None, report: ReconcileReport
    ) -> None:
        record = await read_scheduler(
            self.redis, self.spec.queue_prefix(decl.queue), decl.queue, decl.id
        )
        if record is None:
            await self._upsert(decl)
            if owned_fp is None:
                report.created.append(decl.id)
            else:
                report.repaired[decl.id] = "scheduler missing"
        elif owned_fp != decl.fingerprint or not decl.matches(record):
            if owned_fp is None and decl.matches(record):
                report.adopted.append(decl.id)  # ours by id, registered before ownership
            else:
                await self._upsert(decl)
                report.updated.append(decl.id)
        elif not await self._next_job_present(decl, record):
            if await self._add_missing_next(decl, int(record["next"])):
                report.repaired[decl.id] = "next job missing"
            else:
                report.unchanged.append(decl.id)  # a worker moved the chain on meanwhile
        elif int(record["next"]) > latest_next_ms(decl, time.time()) + NEXT_SLACK_MS:
            # A worker whose clock ran ahead produced the next job late: re-create the
            # scheduler so its next job is due by our clock (drill:
            # tests/drills/test_it_should_repair_a_schedule_a_skewed_clock_pushed_late.py).
            await self.queue(decl.queue).removeJobScheduler(decl.id)
            await self._upsert(decl)
            report.repaired[decl.id] = "next job too late"
            log.warning(
                "next job due too late: repaired",
                extra={
                    "schedule": decl.id,
                    "dueInSeconds": round(int(record["next"]) / 1000 - time.time(), 1),
                },
            )
        else:
            report.unchanged.append(decl.id)
        await self.redis.hset(self.keys.owned(self.owner), decl.owned_field, decl.fingerprint)
        runs = self.keys.schedule_runs
        await self.redis.hsetnx(runs, f"{decl.id}:registered", str(int(time.time())))
        score = await self.redis.zscore(self.spec.queue_keys(decl.queue).key("repeat"), decl.id)
        if score is not None:
            report.next_fire_ms[decl.id] = int(score)

    async def _upsert(self, decl: DeclaredSchedule) -> None:
        await self.queue(decl.queue).upsertJobScheduler(
            decl.id, decl.repeat_opts, decl.job_name, decl.data, decl.opts
        )
        log.info(
            "schedule upserted",
            extra={"schedule": decl.id, "queue": decl.queue, "repeat": decl.repeat_opts},
        )

    async def _add_missing_next(self, decl: DeclaredSchedule, seen_next_ms: int) -> bool:
        """Add the tick after the one the scheduler points at (`seen_next_ms`), only if it
        still points there and that tick's job does not exist (workers/next_tick.py).

        Not an upsert: its next fire is computed before the script runs, and a pass slowed
        by a failover ran it after a worker had run that tick; bullmq then queued the
        finished job again (one tick ran twice). True when a job was added.
        """
        added = await add_next_tick(
            self.queue(decl.queue),
            decl.id,
            decl.repeat_opts,
            decl.job_name,
            decl.data,
            decl.opts,
            tick_job_id(decl.id, seen_next_ms),
        )
        log.info(
            "next job added" if added else "next job present after all",
            extra={"schedule": decl.id, "queue": decl.queue, "job": added},
        )
        return added is not None

    async def _next_job_present(self, decl: DeclaredSchedule, record: dict[str, Any]) -> bool:
        """Whether the job the scheduler points at is still on its way to a worker."""
        nxt = record.get("next")
        if nxt is None:
            return False
        return (
            await next_job_state(
                self.redis, self.spec.queue_prefix(decl.queue), decl.queue, decl.id, int(nxt)
            )
            is not None
        )

    async def _remove(self, queue: str, schedule_id: str, report: ReconcileReport) -> None:
        existed = await self.queue(queue).isJobScheduler(schedule_id)
        if existed:
            await self.queue(queue).removeJobScheduler(schedule_id)
            report.removed.append(schedule_id)
        await self.redis.hdel(self.keys.owned(self.owner), owned_field(queue, schedule_id))

    async def _list_foreign(
        self, declared: list[DeclaredSchedule], ours: set[str], report: ReconcileReport
    ) -> None:
        for queue in sorted({d.queue for d in declared} | {q.name for q in self.spec.queues}):
            members = cast(
                list[str],
                await self.redis.zrange(self.spec.queue_keys(queue).key("repeat"), 0, -1),
            )
            for member in members:
                if owned_field(queue, member) not in ours:
                    report.foreign.append(owned_field(queue, member))


def latest_next_ms(decl: DeclaredSchedule, now: float) -> int:
    """The latest a schedule's next job may be due, by this clock: one interval from now
    (`every`), or the cron expression's next fire."""
    if decl.every_ms is not None:
        return int(now * 1000) + decl.every_ms
    assert decl.pattern is not None
    (first,) = next_fires(decl.pattern, decl.tz, datetime.fromtimestamp(now, UTC), 1)
    return int(first.timestamp() * 1000)


async def read_scheduler(
    redis: aioredis.Redis, prefix: str, queue: str, schedule_id: str
) -> dict[str, Any] | None:
    """BullMQ's record of one job scheduler (name, pattern/every, tz, template data, next).

    Read directly: bullmq 3.4.4's `Queue.getJobScheduler` raises ValueError for
    an id that does not exist instead of returning None.
    """
    repeat = QueueKeys(prefix, queue).key("repeat")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zscore(repeat, schedule_id)
        pipe.hgetall(f"{repeat}:{schedule_id}")
        score, fields = await pipe.execute()
    if score is None or not fields:
        return None
    record: dict[str, Any] = {
        "name": fields.get("name"),
        "pattern": fields.get("pattern"),
        "every": int(fields["every"]) if fields.get("every") else None,
        "tz": fields.get("tz"),
        "next": int(score),
        "template": {"data": json.loads(fields["data"]) if fields.get("data") else {}},
    }
    return record


async def next_job_state(
    redis: aioredis.Redis, prefix: str, queue: str, schedule_id: str, next_ms: int
) -> str | None:
    """Where the scheduler's next job is (delayed/prioritized/wait/paused/active), or None.

    Read in one MULTI so a job moving between lists is seen in one of them.
    """
    keys = QueueKeys(prefix, queue)
    job_id = f"repeat:{schedule_id}:{next_ms}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zscore(keys.delayed, job_id)
        pipe.zscore(keys.prioritized, job_id)
        pipe.lpos(keys.wait, job_id)
        pipe.lpos(keys.key("paused"), job_id)
        pipe.lpos(keys.active, job_id)
        found = await pipe.execute()
    for state, hit in zip(
        ("delayed", "prioritized", "wait", "paused", "active"), found, strict=True
    ):
        if hit is not None:
            return state
    return None
