"""The dead-letter queue `<queue>-dlq`: a plain BullMQ queue nobody consumes.

An entry is a job named like the failed one; its data holds the original
queue, job id, name, payload, error, stack and attempts, so dashboards show it
and the CLI can list, show, retry (back to the original queue) and purge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bullmq import Job
from bullmq import Queue as BullQueue

from platform_spec.job_options import job_options
from platform_spec.keys import JOB_DLQ_HANDLED, QueueKeys
from platform_spec.model import Queue
from workers.connection import bullmq_connection_arg
from workers.producer import partition_index

# Every state a DLQ entry can be in. Nobody consumes a DLQ, so entries wait
# (or sit delayed/prioritized/paused); completed and failed appear only if
# someone ran a worker on it. `dlq list`/`count` and retention-enforce
# (workers/maintenance/retention.py) all use this one tuple.
DLQ_STATES = ("wait", "paused", "prioritized", "delayed", "completed", "failed")
# Trim the DLQ once it holds maxEntries plus this fraction (1/100) more.
TRIM_SLACK_DIVISOR = 100
# KEYS[1] the DLQ's wait list, ARGV[1] entries kept, ARGV[2] the job key prefix.
TRIM_SCRIPT = """
local ids = redis.call('LRANGE', KEYS[1], ARGV[1], -1)
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do redis.call('DEL', ARGV[2] .. id) end
return #ids
"""
# KEYS[1] the original job's hash, ARGV[1] the field, ARGV[2] when (ms): marks the
# job only while its hash exists (no stray hash for a job retention removed).
MARK_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ entry as the CLI shows it."""

    id: str
    queue: str
    job_id: str
    name: str
    data: Any
    error: str
    stacktrace: list[str]
    attempts_made: int
    failed_at_ms: int
    tenant_id: str | None

    @classmethod
    def from_job(cls, job: Job) -> DeadLetter:
        d = job.data if isinstance(job.data, dict) else {}
        return cls(
            id=str(job.id),
            queue=str(d.get("queue", "")),
            job_id=str(d.get("jobId", "")),
            name=str(d.get("name", job.name)),
            data=d.get("data"),
            error=str(d.get("error", "")),
            stacktrace=list(d.get("stacktrace") or []),
            attempts_made=int(d.get("attemptsMade") or 0),
            failed_at_ms=int(d.get("failedAt") or 0),
            tenant_id=d.get("tenantId"),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "queue": self.queue,
            "jobId": self.job_id,
            "name": self.name,
            "error": self.error,
            "attemptsMade": self.attempts_made,
            "failedAt": self.failed_at_ms,
            "tenantId": self.tenant_id,
        }


def entry_id(queue: str, job_id: str) -> str:
    """Deterministic: a job dead-lettered twice (a replayed event) is one entry."""
    return f"{queue}-{job_id}"


class DeadLetterQueue:
    """Read and write the DLQ of one queue.

    A partitioned queue (`partitions: K`) has one DLQ, `<queue>-dlq`, under the
    queue's own tag: an entry's `queue` is the partition its job failed in, its id
    `<partition>-<job id>` (BullMQ ids count per partition), and a retry goes back to
    that partition. `source_prefixes` maps each BullMQ queue entries come from to its
    prefix (default: the queue itself under `prefix`).
    """

    def __init__(
        self,
        queue: Queue,
        prefix: str,
        connection: Any,
        source_prefixes: dict[str, str] | None = None,
    ) -> None:
        self.queue = queue
        self.prefix = prefix
        self.connection = connection
        self.source_prefixes = source_prefixes or {queue.name: prefix}
        self._dlq: BullQueue | None = None
        self._sources: dict[str, BullQueue] = {}

    @property
    def dlq(self) -> BullQueue:
        if self._dlq is None:
            opts = {"connection": bullmq_connection_arg(self.connection), "prefix": self.prefix}
            self._dlq = BullQueue(self.queue.dlq_name, opts)
        return self._dlq

    def source(self, name: str) -> BullQueue:
        """The BullMQ queue `name` entries came from (the queue, or one of its partitions)."""
        found = self._sources.get(name)
        if found is None:
            opts = {
                "connection": bullmq_connection_arg(self.connection),
                "prefix": self.source_prefixes[name],
            }
            found = self._sources[name] = BullQueue(name, opts)
        return found

    def _source_name(self, letter: DeadLetter) -> str:
        """Where a retry goes: the entry's own queue, if it is one of ours; else (an
        entry from before the queue's partitions changed) the partition its job id picks,
        as the producers pick one (workers/producer.py)."""
        if letter.queue in self.source_prefixes:
            return letter.queue
        names = self.queue.partition_names
        return names[partition_index(letter.job_id or letter.id, len(names))]

    def letter(
        self,
        *,
        job_id: str,
        name: str,
        data: Any,
        error: str,
        stacktrace: list[str],
        attempts_made: int,
        tenant_id: str | None,
        source: str | None = None,
    ) -> dict[str, Any]:
        """One DLQ entry as a BullMQ bulk job (name, data, opts); `source` is the partition
        the job failed in (default the queue itself)."""
        source = source or self.queue.name
        entry = {
            "queue": source,
            "jobId": job_id,
            "name": name,
            "data": data,
            "error": error,
            "stacktrace": stacktrace[-3:],
            "attemptsMade": attempts_made,
            "failedAt": int(time.time() * 1000),
            "tenantId": tenant_id,
        }
        age = self.queue.dead_letter.retention_seconds
        opts = {
            "jobId": entry_id(source, job_id),
            "attempts": 1,
            "removeOnComplete": {"age": age},
        }
        return {"name": name, "data": entry, "opts": opts}

    async def add(self, **letter: Any) -> str:
        """Add one entry (the keyword arguments of `letter`); its id."""
        (job_id,) = await self.add_many([self.letter(**letter)])
        return job_id

    async def add_many(self, letters: list[dict[str, Any]]) -> list[str]:
        """Add entries built by `letter` in one pipelined bulk, then trim to the cap.

        Not safe to call concurrently on one instance (two trims would remove
        the same entries twice): the runtime's DeadLetterWriter is its one caller.
        """
        jobs = await self.dlq.addBulk(letters)
        await self.trim()
        return [str(job.id) for job in jobs]

    async def trim(self) -> int:
        """Delete the oldest entries past deadLetter.maxEntries; how many.

        Entries wait in the DLQ's `wait` list, newest first (BullMQ LPUSHes), and
        nobody runs them: an entry is its hash plus its place in that list. One
        script trims the list and deletes the hashes it cut, atomically, so an
        entry added meanwhile is never cut without its hash. It runs only past
        the cap plus a slack of 1 %: one LLEN per batch in a failure storm.
        """
        cap = self.queue.dead_letter.max_entries
        keys = QueueKeys(self.prefix, self.queue.dlq_name)
        client = self.dlq.client
        if int(await client.llen(keys.wait)) <= cap + max(1, cap // TRIM_SLACK_DIVISOR):
            return 0
        return int(await client.eval(TRIM_SCRIPT, 1, keys.wait, cap, keys.job_prefix))

    async def list(self, start: int = 0, end: int = 99) -> list[DeadLetter]:
        jobs = await self.dlq.getJobs(list(DLQ_STATES), start, end, asc=True)
        return [DeadLetter.from_job(j) for j in jobs if j is not None]

    async def get(self, entry: str) -> DeadLetter | None:
        job = await self.dlq.getJob(entry)
        return DeadLetter.from_job(job) if job else None

    async def retry(self, entry: str) -> str:
        """Send an entry back to its queue as a fresh job (full attempts); drop the entry."""
        letter = await self.get(entry)
        if letter is None:
            raise KeyError(entry)
        data = letter.data
        await self._mark_handled(letter)
        job = await self.source(self._source_name(letter)).add(
            letter.name, data, job_options(self.queue)
        )
        await self.dlq.remove(entry)
        return str(job.id)

    async def purge(self, entry: str | None = None) -> int:
        """Delete one entry, or all of them."""
        if entry is not None:
            letter = await self.get(entry)
            if letter is not None:
                await self._mark_handled(letter)
            await self.dlq.remove(entry)
            return 1
        letters = await self.list(0, -1)
        for letter in letters:
            await self._mark_handled(letter)
            await self.dlq.remove(letter.id)
        return len(letters)

    async def _mark_handled(self, letter: DeadLetter) -> None:
        """Before an operator's retry or purge removes an entry: mark the failed job,
        so workers/dlq_reconcile.py does not dead-letter it again."""
        if not letter.job_id:
            return
        name = self._source_name(letter)
        key = QueueKeys(self.source_prefixes[name], name).job(letter.job_id)
        now = str(int(time.time() * 1000))
        await self.dlq.client.eval(MARK_SCRIPT, 1, key, JOB_DLQ_HANDLED, now)

    async def count(self) -> int:
        counts = await self.dlq.getJobCounts(*DLQ_STATES)
        return int(sum(counts.values()))

    async def close(self) -> None:
        for q in (self._dlq, *self._sources.values()):
            if q is not None:
                await q.close()
