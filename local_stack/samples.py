"""Sample jobs for the local stack: valid payloads for the handlers of each queue.

`python -m local_stack enqueue` sends them so a newcomer sees work flow through
the workers in the first minute. Every payload is validated with the worker's
own model (workers.payloads.validate_job) before it is added, with the queue's
spec options; a queue whose job names have no sample gets `ping`, which every
queue answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from platform_spec.model import PlatformSpec
from platform_spec.settings import RedisSettings
from workers.connection import bullmq_connection
from workers.payloads import validate_job
from workers.producer import Producer
from workers.registry import load_registry

Sample = Callable[[int, str], dict[str, Any]]

TEXT = (
    "BullMQ keeps jobs in Redis. Workers fetch them. The scheduler registers cron jobs. "
    "Nothing is lost when a worker dies."
)

SAMPLES: dict[str, Sample] = {
    "execute-agent": lambda i, run: {"agentId": f"demo-agent-{i}", "input": TEXT, "maxSteps": 3},
    "start-workflow": lambda i, run: {
        "workflowId": f"demo-{run}-{i}",
        "steps": [
            {"action": "echo", "params": {"hello": "world"}},
            {"action": "sum", "params": {"values": [1, 2, 3, i]}},
        ],
    },
    "index-content": lambda i, run: {"documentId": f"doc-{run}-{i}", "text": TEXT, "top": 5},
    "generate-report": lambda i, run: {
        "title": f"demo report {i}",
        "rows": [{"team": t, "jobs": n} for t, n in (("a", 3), ("b", 5), ("a", 7))],
        "groupBy": "team",
        "metric": "jobs",
    },
    "health-check": lambda i, run: {},
    "metrics-aggregate": lambda i, run: {},
    "send-email": lambda i, run: {
        "to": ["newcomer@example.com"],
        "subject": f"Hello from the local stack #{i}",
        "body": "This message was only logged (LogSender): no mail leaves the machine.",
    },
    "send-slack": lambda i, run: {"channel": "#demo", "text": f"sample message {i}"},
}


@dataclass(frozen=True)
class Planned:
    queue: str
    name: str
    data: dict[str, Any]


def plan(spec: PlatformSpec, count: int, queues: list[str] | None = None) -> list[Planned]:
    """`count` valid jobs per queue, cycling through the queue's job names that have samples."""
    run = time.strftime("%H%M%S")
    out: list[Planned] = []
    for queue in spec.queues:
        if queues and queue.name not in queues:
            continue
        registry = load_registry(queue)
        names = [j.name for j in queue.jobs if j.name in SAMPLES] or ["ping"]
        for i in range(count):
            name = names[i % len(names)]
            data = SAMPLES[name](i, run) if name in SAMPLES else {"sample": i}
            validate_job(queue, registry, name, data)  # raises InvalidJob naming the field
            out.append(Planned(queue.name, name, data))
    return out


async def enqueue(spec: PlatformSpec, redis: RedisSettings, jobs: list[Planned]) -> list[str]:
    """Add the planned jobs with each queue's spec options (a partitioned queue's jobs
    spread over its partitions, workers/producer.py); their ids, in order."""
    producer = Producer(spec, bullmq_connection(redis))
    try:
        return [(await producer.enqueue(job.queue, job.name, job.data)).id for job in jobs]
    finally:
        await producer.close()
