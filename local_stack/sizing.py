"""Measure what one job costs in Redis memory, by state and payload size.

On a Redis of its own (nothing else writes), `used_memory` before and after N
jobs of one payload size reach a state, divided by N: the job hash, its entry
in the state's list or sorted set, its events, and the allocator's share. That
is the figure `maxmemory` counts. States: waiting (added, never fetched),
completed and failed (run by a bullmq Worker, kept), and a DLQ entry
(workers/dlq.py's own `add`, with an error and a three-line stack like a real
failure). platform_spec/sizing.py holds the fitted figures the spec validates
retention with; `python -m local_stack sizing` prints the table.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from bullmq import Queue as BullQueue
from bullmq import Worker as BullWorker

from platform_spec.model import PlatformSpec
from workers.dlq import DeadLetterQueue

STATES = ("waiting", "completed", "failed", "dlq")
DEFAULT_SIZES = (0, 256, 1024, 4096, 16384, 65536)
ERROR = "ValueError: the handler refused this job (a typical one-line reason)"
STACK = [
    f'  File "/app/handlers/example.py", line {n}, in handle\n    raise ValueError(...)'
    for n in (10, 20, 30)
]


@dataclass(frozen=True)
class Row:
    payload_bytes: int
    bytes_per_job: dict[str, int]


async def _used(client: aioredis.Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def _run_all(
    queue: BullQueue, name: str, conn: dict[str, Any], count: int, fail: bool
) -> None:
    """Run every job of `name` with a bullmq Worker (kept: no removeOn*); fail if asked."""

    async def process(job: Any, token: str) -> Any:
        if fail:
            raise ValueError(ERROR)
        return {"ok": True}

    worker = BullWorker(
        name, process, {"connection": conn, "prefix": queue.prefix, "concurrency": 50}
    )
    try:
        for _ in range(600):  # bounded: 60 s
            counts = await queue.getJobCounts("completed", "failed")
            if counts["completed"] + counts["failed"] >= count:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{name}: {count} jobs did not finish within 60 s")
    finally:
        await worker.close()


async def _measure_state(
    client: aioredis.Redis,
    conn: dict[str, Any],
    spec: PlatformSpec,
    state: str,
    payload: int,
    count: int,
) -> int:
    name = f"sizing-{state}-{uuid.uuid4().hex[:8]}"
    # The DLQ state writes `<name>-dlq` through workers/dlq.py; the others `<name>` itself.
    dlq = DeadLetterQueue(spec.queues[0].model_copy(update={"name": name}), spec.key_prefix, conn)
    queue = dlq.dlq if state == "dlq" else dlq.source(name)
    data = {"pad": "x" * payload}
    try:
        before = await _used(client)
        if state == "dlq":
            for n in range(count):
                await dlq.add(
                    job_id=str(n),
                    name="work",
                    data=data,
                    error=ERROR,
                    stacktrace=STACK,
                    attempts_made=1,
                    tenant_id=None,
                )
        else:
            for start in range(0, count, 250):
                size = min(count, start + 250) - start
                batch = [{"name": "work", "data": data, "opts": {"attempts": 1}}] * size
                await queue.addBulk(batch)
            if state != "waiting":
                await _run_all(queue, name, conn, count, fail=state == "failed")
        after = await _used(client)
        return max(0, (after - before) // count)
    finally:
        await queue.obliterate({"force": True})
        await queue.close()


async def measure(
    conn: dict[str, Any],
    spec: PlatformSpec,
    sizes: list[int],
    count: int,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Row]:
    """Bytes per job for each payload size and state (conn: an admin-capable user)."""
    client = aioredis.Redis(**conn)
    rows = []
    try:
        for state in STATES:  # warm-up: script cache, first allocations
            await _measure_state(client, conn, spec, state, min(sizes), max(10, count // 5))
        for payload in sizes:
            per: dict[str, int] = {}
            for state in STATES:
                per[state] = await _measure_state(client, conn, spec, state, payload, count)
                progress(f"payload {payload} B, {state}: {per[state]} B/job")
            rows.append(Row(payload, per))
    finally:
        await client.aclose()
    return rows


def markdown(rows: list[Row]) -> str:
    """The sizing table of docs/memory.md: bytes per job, and jobs per 100 MB."""
    head = "| payload (bytes) | " + " | ".join(f"{s} (B/job)" for s in STATES) + " |"
    lines = [head, "|" + " --- |" * (len(STATES) + 1)]
    for row in rows:
        cells = " | ".join(f"{row.bytes_per_job[s]:,}" for s in STATES)
        lines.append(f"| {row.payload_bytes:,} | {cells} |")
    return "\n".join(lines)
