"""One engine over the K partitions of a partitioned queue (`queues[].partitions`).

A worker of a partitioned queue runs one engine per partition (each a plain
engine of workers/engine.py on its own BullMQ queue, stock or fast alike) and
shows the runtime and the health server one: started and stopped together,
active jobs summed, alive only while every partition's loop is.

The process's `concurrency` is split over the partitions
(`Queue.partition_concurrency`), not shared: an engine takes and locks a job
when it fetches it, so a shared budget behind the fetch would hold locked jobs
that have not started, and a budget in front of it would need the engines to
ask before every fetch (an engine change). The cost of the split is that a
partition with no work leaves its share idle while another has a backlog;
round-robin producers keep the partitions even, keyed ones may not
(docs/redis-cluster.md, "Partitioned queues").
"""

from __future__ import annotations

import asyncio

from workers.engine import Engine


class PartitionedEngine:
    """The Engine protocol over one engine per partition."""

    def __init__(self, engines: list[Engine], concurrencies: list[int]) -> None:
        self.engines = engines
        self.concurrencies = concurrencies  # each partition's share of `concurrency`

    async def start(self) -> None:
        for engine in self.engines:
            await engine.start()

    async def stop(self, timeout: float) -> int:
        """Stop every partition's engine at once, all within the same `timeout`."""
        handed_back = await asyncio.gather(*(e.stop(timeout) for e in self.engines))
        return sum(handed_back)

    @property
    def active(self) -> int:
        return sum(e.active for e in self.engines)

    @property
    def alive(self) -> bool:
        return all(e.alive for e in self.engines)

    @property
    def last_progress(self) -> float:
        """The stalest partition's that has a free slot: one stuck fetch loop makes the
        worker unready. A partition whose slots are all busy does not fetch, so it is left
        out (the health check exempts a worker whose slots are all busy, not one partition
        of it: long jobs in one partition must not fail liveness)."""
        fetching = [
            e.last_progress
            for e, concurrency in zip(self.engines, self.concurrencies, strict=True)
            if e.active < concurrency
        ]
        return min(fetching) if fetching else max(e.last_progress for e in self.engines)

    def active_locks(self) -> list[tuple[str, str]]:
        return [lock for e in self.engines for lock in e.active_locks()]
