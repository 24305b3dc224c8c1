"""The platform's producer: add a job to a catalog queue, partitioned or not.

A queue with `partitions: K` (K > 1) is K BullMQ queues (platform_spec/keys.py
`partition_queue`); its producers go through here, never to one partition by
hand:

- with a `key` (a customer id, an order id), the partition is CRC32 of the
  key's UTF-8 bytes mod K: the same key always lands on the same partition,
  from any process and any language (zlib's CRC-32 is the common one, unlike
  Python's salted `hash`), so jobs of one key keep their order when a worker
  runs each partition one job at a time;
- without a key but with a job id, by the job id the same way: BullMQ keeps one
  job per id only within one BullMQ queue, so an idempotent re-add (the same id
  after a NotReplicated, or a DLQ retry) must land where the first add did;
- with neither, round-robin, starting at a random partition so many short-lived
  producers do not all fill partition 0 first.

K = 1 is the queue itself, so this is also the plain producer (the ops CLI and
the handlers' `ctx.enqueue` use it for every queue). Changing K moves keys to
other partitions: jobs already queued finish where they are, so per-key order
holds across the change only once the old partitions drained.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bullmq import Queue as BullQueue

from platform_spec.job_options import job_options
from platform_spec.model import PlatformSpec, Queue
from workers.connection import bullmq_connection_arg
from workers.memory_guard import ProducerGuard
from workers.replication_ack import add_acknowledged, spec_wait_policy


def partition_index(key: str, partitions: int) -> int:
    """The partition of `key`: CRC32 of its UTF-8 bytes mod `partitions` (stable)."""
    return zlib.crc32(key.encode()) % partitions


@dataclass(frozen=True)
class Enqueued:
    """Where a job went: the catalog queue, the BullMQ queue (a partition) and its id."""

    queue: str
    partition: str
    id: str


class PartitionPicker:
    """Picks the BullMQ queue of one catalog queue for each job."""

    def __init__(self, queue: Queue) -> None:
        self.names = queue.partition_names
        start = random.randrange(len(self.names))
        self._turn: Iterator[int] = itertools.count(start)

    def pick(self, key: str | None = None) -> str:
        """By key when given (stable), else the next one round-robin."""
        if len(self.names) == 1:
            return self.names[0]
        if key is not None:
            return self.names[partition_index(key, len(self.names))]
        return self.names[next(self._turn) % len(self.names)]


class Producer:
    """Adds jobs with their queue's spec options, through the memory guard and, where the
    spec asks for it, a replicas' acknowledgement (one BullMQ Queue per BullMQ queue)."""

    def __init__(self, spec: PlatformSpec, connection: dict[str, Any]) -> None:
        self.spec = spec
        self.connection = connection
        self._queues: dict[str, BullQueue] = {}
        self._guards: dict[str, ProducerGuard] = {}
        self._pickers: dict[str, PartitionPicker] = {}

    def partition(self, queue: str, key: str | None = None) -> str:
        """The BullMQ queue a job of catalog queue `queue` goes to."""
        picker = self._pickers.get(queue)
        if picker is None:
            picker = self._pickers[queue] = PartitionPicker(self.spec.queue(queue))
        return picker.pick(key)

    def bull_queue(self, name: str) -> BullQueue:
        """bullmq's Queue of one BullMQ queue (a catalog queue or one of its partitions)."""
        found = self._queues.get(name)
        if found is None:
            opts = {
                "connection": bullmq_connection_arg(self.connection),
                "prefix": self.spec.queue_prefix(name),
            }
            found = self._queues[name] = BullQueue(name, opts)
        return found

    async def enqueue(
        self,
        queue: str,
        name: str,
        data: Any,
        *,
        key: str | None = None,
        job_id: str | None = None,
        priority: int | None = None,
        delay_ms: int = 0,
        extra_opts: dict[str, Any] | None = None,
    ) -> Enqueued:
        """Add one job to catalog queue `queue`: its partition by `key`, else by `job_id`,
        else round-robin.

        Raises RedisNearlyFull past the producers' memory limit and NotReplicated when
        too few replicas acknowledged (workers/replication_ack.py)."""
        target = self.spec.queue(queue)
        opts = job_options(target, priority=priority, delay_ms=delay_ms, job_id=job_id)
        if extra_opts:
            opts.update(extra_opts)
        partition = self.partition(queue, key if key is not None else job_id)
        bull = self.bull_queue(partition)
        guard = self._guards.get(partition)
        if guard is None:
            limit = self.spec.redis.producer_memory_limit_percent
            guard = self._guards[partition] = ProducerGuard(bull.client, limit)
        await guard.check()
        job = await add_acknowledged(bull, name, data, opts, spec_wait_policy(self.spec))
        return Enqueued(target.name, partition, str(job.id))

    async def close(self) -> None:
        for bull in self._queues.values():
            await bull.close()
        self._queues.clear()
        self._guards.clear()
