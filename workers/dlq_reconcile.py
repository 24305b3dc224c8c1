"""Give every finally-failed job its DLQ entry, even if the worker that failed it died.

A job's final failure moves it to `P:Q:failed` first; its DLQ entry then waits
in the worker's memory for DeadLetterWriter's next batch (workers/dlq_writer.py).
A worker SIGKILLed in between (OOM kill, node loss) took those entries with it,
and the job later left `failed` too (removeOnFail): a lost job with no trace.

The reconciler closes that gap from Redis alone. `failed` is scored by the
finish time (ms); a checkpoint (PlatformKeys.dlq_checkpoint) holds the score
below which every failed job has its entry. A pass reads the next page of
`failed` from the checkpoint, adds the entries that are missing (built from the
job hash: name, data, failedReason, stacktrace, attempts) and only then moves
the checkpoint on. Entry ids derive from the job id (workers/dlq.py
`entry_id`), and BullMQ's add is a no-op for an existing id, so an entry the
hot path writes meanwhile, a pass run by two workers at once, or a pass
repeated after a crash still leaves exactly one entry per job. Every worker
runs a pass at start and then every `dlq_reconcile_interval_seconds`. Jobs
failed by BullMQ itself (stalled too often) get their entry the same way. An
entry an operator retried or purged (`ops dlq retry|purge`) marks its failed
job first (JOB_DLQ_HANDLED), so a pass never brings it back.

Every call touches one slot (the `failed` zset and job hashes, then the DLQ's
keys, then the checkpoint), so it is correct in Redis Cluster mode as well.
Left alone: a job that leaves `failed` (removeOnFail count) before any pass
reaches it, i.e. more failures than `removeOnFail.count` between a worker's
death and the next pass of any worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from platform_spec.keys import JOB_DLQ_HANDLED, QueueKeys
from workers.dlq import DeadLetterQueue, entry_id
from workers.payloads import tenant_of

log = logging.getLogger("workers.dlq")
# Failed jobs examined per page; a pass reads pages until it is caught up.
PAGE = 500
# Pages per pass at most, so one pass after a storm stays bounded.
MAX_PAGES = 20
# Fields of a failed job's hash a DLQ entry is built from.
HANDLED = JOB_DLQ_HANDLED.encode()
FIELDS = (b"name", b"data", b"failedReason", b"stacktrace", b"atm", b"attemptsMade", HANDLED)
# Only move the checkpoint if it is still below the new value (two workers may race).
ADVANCE_SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""


def _text(raw: bytes | None) -> str:
    return raw.decode(errors="replace") if raw is not None else ""


def _json(raw: bytes | None, default: Any) -> Any:
    if raw is None:
        return default
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _text(raw)


def _int(raw: bytes | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


class DeadLetterReconciler:
    """Adds the DLQ entries of failed jobs that have none, from a checkpoint on."""

    def __init__(
        self,
        dlq: DeadLetterQueue,
        client: Redis,
        source: QueueKeys,
        checkpoint_key: str,
        recovered: Callable[[int], None],
    ) -> None:
        self.dlq = dlq
        self.client = client  # raw replies (bytes): a job hash may hold invalid UTF-8
        self.source = source
        self.dlq_keys = QueueKeys(dlq.prefix, dlq.queue.dlq_name)
        self.checkpoint_key = checkpoint_key
        self.on_recovered = recovered  # called with each pass's count (metrics)
        self.recovered = 0  # entries this process added (all passes)
        self._task: asyncio.Task[None] | None = None

    async def page(self) -> tuple[int, bool]:
        """One page from the checkpoint: (entries added, caught up)."""
        raw = await self.client.get(self.checkpoint_key)
        low = float(raw) if raw else 0.0
        rows = cast(
            list[tuple[bytes, float]],
            await self.client.zrangebyscore(
                self.source.failed, low, "+inf", start=0, num=PAGE, withscores=True
            ),
        )
        if not rows:
            return 0, True
        ids = [_text(member) for member, _ in rows]
        added = await self._add_missing(ids)
        last = rows[-1][1]
        full = len(rows) == PAGE
        # Inclusive low bound: jobs at the last score are looked at again (a no-op),
        # unless a whole page shares one score (then step past it, or loop forever).
        new_low = last + 1 if full and last <= low else last
        if new_low > low:
            await self.client.eval(ADVANCE_SCRIPT, 1, self.checkpoint_key, int(new_low))
        return added, not full

    async def _add_missing(self, ids: list[str]) -> int:
        name = self.source.queue  # the queue, or the partition this reconciler reads
        pipe = self.client.pipeline(transaction=False)
        for job_id in ids:
            pipe.exists(self.dlq_keys.job(entry_id(name, job_id)))
        present = await pipe.execute()
        missing = [job_id for job_id, n in zip(ids, present, strict=True) if not n]
        if not missing:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for job_id in missing:
            pipe.hmget(self.source.job(job_id), list(FIELDS))
        hashes = await pipe.execute()
        letters = []
        for job_id, values in zip(missing, hashes, strict=True):
            fields = dict(zip(FIELDS, values, strict=True))
            if fields[b"name"] is None:  # removed meanwhile (retention): nothing to keep
                continue
            if fields[HANDLED] is not None:  # an operator retried or purged its entry
                continue
            data = _json(fields[b"data"], None)
            stack = _json(fields[b"stacktrace"], [])
            letters.append(
                self.dlq.letter(
                    job_id=job_id,
                    name=_text(fields[b"name"]),
                    data=data,
                    error=_text(fields[b"failedReason"]),
                    stacktrace=[str(x) for x in stack] if isinstance(stack, list) else [],
                    attempts_made=_int(fields[b"atm"] or fields[b"attemptsMade"]),
                    tenant_id=tenant_of(data),
                    source=name,
                )
            )
        if not letters:
            return 0
        await self.dlq.add_many(letters)
        return len(letters)

    async def run_pass(self) -> int:
        """Pages until caught up (at most MAX_PAGES); entries added."""
        added = 0
        for _ in range(MAX_PAGES):
            n, caught_up = await self.page()
            added += n
            if caught_up:
                break
        if added:
            self.recovered += added
            self.on_recovered(added)
            log.warning(
                "dead letters recovered from failed jobs",
                extra={"queue": self.dlq.queue.name, "entries": added},
            )
        return added

    async def _run(self, interval: float) -> None:
        while True:
            try:
                await self.run_pass()
            except Exception as exc:  # Redis away or refusing: the next pass tries again
                log.error(
                    "dead-letter reconcile failed",
                    extra={"queue": self.dlq.queue.name, "error": repr(exc)},
                )
            await asyncio.sleep(interval)

    def start(self, interval: float) -> None:
        """Run a pass now, then one every `interval` seconds, in a task."""
        self._task = asyncio.create_task(self._run(interval))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()
