"""Redis bytes per job, measured, and the check that retention fits in maxmemory.

A failure storm keeps every failed job (removeOnFail) and a DLQ entry copying
its payload (deadLetter): with an age-only retention, memory grows until
noeviction stops the platform (issue 25, item 3b). So each kept state is capped
by count, and the spec refuses a catalog whose retained jobs, at the queues'
typicalPayloadBytes, would take more than RETENTION_SHARE_PERCENT of
redis.maxmemory; the rest is for backlogs and the workers' reserve
(docs/memory.md).

The figures come from `python -m local_stack sizing` (Redis 7.0, `used_memory`
delta over 1,000 jobs per state and size; the table is in docs/memory.md): a
job costs a fixed part (hash fields, its entry in a list or sorted set, events;
a failed job carries its stack) plus 1.25 x its payload (the allocator rounds a
large string up to its size class). Each base is the largest measured for
payloads from 0 to 64 KiB, rounded up.
"""

from __future__ import annotations

from platform_spec.quantities import redis_memory_bytes
from platform_spec.sections.queues import Queue

PAYLOAD_FACTOR = 1.25
BASE_BYTES = {"waiting": 750, "completed": 1300, "failed": 1950, "dlq": 1400}
RETENTION_SHARE_PERCENT = 50


def job_bytes(state: str, payload_bytes: int) -> int:
    """Redis memory of one job in `state` ("waiting", "completed", "failed", "dlq")."""
    return BASE_BYTES[state] + int(PAYLOAD_FACTOR * payload_bytes)


def retained_bytes(queue: Queue) -> dict[str, int]:
    """Bytes the queue's retention may keep, by the spec field that caps it (0: uncapped)."""
    p = queue.typical_payload_bytes
    out = {
        "removeOnComplete.count": (queue.remove_on_complete.count or 0) * job_bytes("completed", p),
        "removeOnFail.count": (queue.remove_on_fail.count or 0) * job_bytes("failed", p),
    }
    if queue.dead_letter.enabled:
        out["deadLetter.maxEntries"] = queue.dead_letter.max_entries * job_bytes("dlq", p)
    return out


def retention_problems(queues: list[Queue], maxmemory: str) -> list[tuple[str, str]]:
    """(field path, message) for uncapped retention, and for retention that cannot fit."""
    problems: list[tuple[str, str]] = []
    for i, q in enumerate(queues):
        kept = {"removeOnComplete": q.remove_on_complete, "removeOnFail": q.remove_on_fail}
        for field, retention in kept.items():
            if retention.count is None:
                problems.append(
                    (
                        f"queues[{i}].{field}.count",
                        "must be set: an age alone does not bound memory (a burst of jobs "
                        "within the age fills Redis until noeviction stops every queue)",
                    )
                )
    if problems:
        return problems
    budget = redis_memory_bytes(maxmemory) * RETENTION_SHARE_PERCENT // 100
    per_field = {
        f"queues[{i}].{field}": size
        for i, q in enumerate(queues)
        for field, size in retained_bytes(q).items()
    }
    total = sum(per_field.values())
    if total > budget:
        largest = max(per_field, key=lambda k: per_field[k])
        problems.append(
            (
                largest,
                f"retained jobs need about {total / 2**20:.0f} MiB at each queue's "
                f"typicalPayloadBytes (this field: {per_field[largest] / 2**20:.0f} MiB), over "
                f"{RETENTION_SHARE_PERCENT}% of redis.maxmemory {maxmemory} "
                f"({budget / 2**20:.0f} MiB); lower the counts or raise redis.maxmemory "
                "(bytes per job: docs/memory.md)",
            )
        )
    return problems
