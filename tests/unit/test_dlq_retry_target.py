"""Where `ops dlq retry` sends an entry: its own BullMQ queue when it is one of ours, else
(an entry written before the queue's `partitions` changed) the partition its job id picks,
as the producers pick one; never a queue no worker reads, never a KeyError."""

from __future__ import annotations

from platform_spec.model import PlatformSpec
from workers.dlq import DeadLetter, DeadLetterQueue
from workers.producer import partition_index

HANDLER = "workers.handlers.background_tasks"


def letter(queue: str, job_id: str) -> DeadLetter:
    return DeadLetter(
        id=f"{queue}-{job_id}",
        queue=queue,
        job_id=job_id,
        name="n",
        data={},
        error="e",
        stacktrace=[],
        attempts_made=1,
        failed_at_ms=0,
        tenant_id=None,
    )


def dlq_of(partitions: int) -> DeadLetterQueue:
    orders = {"name": "orders", "handler": HANDLER, "jobs": [{"name": "run"}]}
    spec = PlatformSpec.model_validate(
        {
            "queues": [{**orders, "concurrency": 4, "partitions": partitions}],
            "schedules": [],
            "maintenanceQueue": "orders",
        }
    )
    queue = spec.queue("orders")
    prefixes = {name: spec.queue_prefix(name) for name in queue.partition_names}
    return DeadLetterQueue(queue, spec.queue_prefix(queue.dlq_name), {}, prefixes)


def test_it_should_send_an_entry_back_to_its_own_partition() -> None:
    assert dlq_of(4)._source_name(letter("orders-p2", "7")) == "orders-p2"


def test_it_should_pick_a_partition_for_an_entry_from_before_the_partitions() -> None:
    dlq = dlq_of(4)
    for old in ("orders", "orders-p7"):
        assert dlq._source_name(letter(old, "42")) == f"orders-p{partition_index('42', 4)}"


def test_it_should_send_a_partitioned_entry_back_to_a_queue_made_whole_again() -> None:
    assert dlq_of(1)._source_name(letter("orders-p3", "42")) == "orders"
