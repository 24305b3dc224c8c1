"""Flows from Python: a parent and its children across queues of the spec, added at once.

BullMQ's FlowProducer semantics (one MULTI/EXEC for the whole tree, the parent
waiting in `waiting-children` until its children finish; bullmq/flow_producer.py),
with every job taking its queue's options from the spec
(platform_spec/job_options.py), as the platform's other producers do. A handler
that adds children from inside its job uses `ctx.job.add_child` instead
(workers/job.py). docs/workers.md has an example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bullmq import FlowProducer as BullFlowProducer

from platform_spec.job_options import child_failure_options, job_options
from platform_spec.model import PlatformSpec
from workers.connection import bullmq_connection_arg
from workers.memory_guard import ProducerGuard


@dataclass
class FlowJob:
    """One node of a flow: a job on a queue of the spec, and its children.

    `on_failure` says what this job's failure does to its parent: None leaves
    the parent waiting (BullMQ's default), `fail` fails it, `ignore` lets it run.
    """

    queue: str
    name: str
    data: Any
    children: list[FlowJob] = field(default_factory=list)
    job_id: str | None = None
    on_failure: str | None = None


@dataclass(frozen=True)
class AddedJob:
    """Where a flow's job landed: its queue, id, and its children's."""

    queue: str
    id: str
    children: list[AddedJob]


class FlowProducer:
    """Add flows whose jobs carry their queue's spec options (attempts, backoff, retention)."""

    def __init__(self, spec: PlatformSpec, connection: dict[str, Any]) -> None:
        self.spec = spec
        self._producer = BullFlowProducer(
            {"connection": bullmq_connection_arg(connection), "prefix": spec.key_prefix}
        )
        self._guard: ProducerGuard | None = None

    def _node(self, job: FlowJob, path: str, root_prefix: str | None = None) -> dict[str, Any]:
        try:
            queue = self.spec.queue(job.queue)
        except KeyError:
            raise ValueError(f"{path}.queue: no queue {job.queue!r} in the spec") from None
        if queue.partitions > 1:
            raise ValueError(
                f"{path}.queue: {job.queue!r} is partitioned ({queue.partitions} BullMQ "
                "queues, each its own hash slot): a flow's jobs must share one slot"
            )
        prefix = self.spec.queue_prefix(job.queue)
        root_prefix = root_prefix or prefix
        if prefix != root_prefix:
            # Redis Cluster: one flow is one MULTI, and a child's completion updates its
            # parent in one Lua call; keys in two slots fail both with CROSSSLOT.
            raise ValueError(
                f"{path}.queue: {job.queue!r} keys live under {prefix!r}, the flow's root "
                f"under {root_prefix!r}: a flow must stay in one hash slot; put its queues "
                "in one redis.cluster.tagGroups entry"
            )
        opts = job_options(queue, job_id=job.job_id)
        try:
            opts.update(child_failure_options(job.on_failure))
        except ValueError as exc:
            raise ValueError(f"{path}.{exc}") from None
        node: dict[str, Any] = {
            "name": job.name,
            "queueName": job.queue,
            "data": job.data,
            "opts": opts,
            "prefix": prefix,
        }
        if job.children:
            node["children"] = [
                self._node(child, f"{path}.children[{i}]", root_prefix)
                for i, child in enumerate(job.children)
            ]
        return node

    async def add(self, flow: FlowJob) -> AddedJob:
        """Add the whole tree atomically; bad input fails before anything is written."""
        node = self._node(flow, "flow")
        if self._guard is None:
            self._guard = ProducerGuard(
                self._producer.backend.conn, self.spec.redis.producer_memory_limit_percent
            )
        await self._guard.check()  # RedisNearlyFull past the producers' memory limit
        tree = await self._producer.add(node)
        if tree is None:
            raise RuntimeError("the flow producer is closed")
        return _added(tree)

    async def close(self) -> None:
        await self._producer.close()


def _added(tree: dict[str, Any]) -> AddedJob:
    job = tree["job"]
    return AddedJob(
        queue=str(job.queue.name),
        id=str(job.id),
        children=[_added(child) for child in tree.get("children") or []],
    )
