"""The `redis.cluster` section: shards, replicas and the hash-tag layout of Redis Cluster.

BullMQ's Lua scripts touch many keys of one queue in one call, and Redis
Cluster runs a call only when all its keys hash to one slot. So in cluster mode
every queue's key prefix carries a hash tag (`<keyPrefix>:{<tag>}`, built in
platform_spec/keys.py): all keys of one queue share a slot, and different
queues land on different shards. The tag is the queue's name unless the queue
belongs to a tag group: queues a flow spans (a parent waiting on children in
other queues) must share one slot, so they share one tag. A queue's
dead-letter queue always shares its queue's tag.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from platform_spec.base import SpecModel
from platform_spec.sections.common import duplicates

# The hash tag text: no braces (they delimit the tag), nothing a key pattern would glob.
HashTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", max_length=63)]

# redis-cli's and Redis's own limit: a cluster has 16384 hash slots.
HASH_SLOTS = 16384


class TagGroup(SpecModel):
    """Queues whose keys share one hash slot (so one shard) under one tag."""

    tag: HashTag = Field(description="The hash tag the group's queues share.")
    queues: list[str] = Field(
        min_length=1,
        description="Queue names (of `queues`) placed in this slot. Every queue a flow "
        "spans must be in one group, or the flow's add fails with CROSSSLOT.",
    )


class Flow(SpecModel):
    """The queues one kind of flow spans (its parent and children queues)."""

    name: str = Field(min_length=1, description="A name for messages and docs.")
    queues: list[str] = Field(
        min_length=1,
        description="Every queue the flow's jobs are added to. In cluster mode they must "
        "share a tag group (one slot): BullMQ adds a flow in one MULTI and a child's "
        "completion updates its parent in one Lua call.",
    )


class ClusterMode(SpecModel):
    """Redis Cluster (mode `cluster`, or `external` with `external.cluster`)."""

    shards: int = Field(
        3,
        ge=3,
        le=100,
        description="Primaries of the in-cluster Redis Cluster, each owning an equal share "
        "of the 16384 hash slots. Redis Cluster needs at least 3 for failover votes.",
    )
    replicas_per_shard: int = Field(
        1,
        ge=0,
        le=5,
        description="Replicas of each primary. With 0 a lost primary takes its queues down "
        "until it comes back; 1 lets the cluster promote a replica (seconds).",
    )
    node_timeout_ms: int = Field(
        5000,
        ge=500,
        description="`cluster-node-timeout`: how long a primary may be unreachable before "
        "its replica is promoted. Lower fails over faster but may promote on a GC pause.",
    )
    wait_replicas: int | None = Field(
        None,
        ge=0,
        description="The platform's producers (ops CLI, ctx.enqueue) send `WAIT n` to the "
        "primary that owns the queue's slot, on the connection that made the add, and report "
        "the add failed unless n replicas of that shard acknowledged it, so an acknowledged "
        "enqueue survives a shard failover. null: 1 outside dev when replicasPerShard is at "
        "least 1, else 0. At most `replicasPerShard` (set it to a managed cluster's replicas).",
    )
    wait_timeout_milliseconds: int = Field(
        1000,
        ge=1,
        le=60000,
        description="How long `WAIT` may block one enqueue before it is reported failed.",
    )
    tag_groups: list[TagGroup] = Field(
        default_factory=list,
        description="Queues that must share one slot (flows across them). A queue in no "
        "group gets its own tag, its name.",
    )
    flows: list[Flow] = Field(
        default_factory=list,
        description="The flows producers add across queues. Their queues must share a tag "
        "group; a flow whose queues would cross slots is refused here.",
    )

    @model_validator(mode="after")
    def _groups_disjoint(self) -> ClusterMode:
        dupes = duplicates([g.tag for g in self.tag_groups])
        if dupes:
            raise ValueError(f"tagGroups: duplicate tags: {', '.join(dupes)}")
        grouped = [q for g in self.tag_groups for q in g.queues]
        dupes = duplicates(grouped)
        if dupes:
            raise ValueError(f"tagGroups: queues in more than one group: {', '.join(dupes)}")
        if self.wait_replicas is not None and self.wait_replicas > self.replicas_per_shard:
            raise ValueError(
                f"waitReplicas {self.wait_replicas} exceeds replicasPerShard "
                f"{self.replicas_per_shard}: every enqueue would be reported failed"
            )
        return self

    def effective_wait_replicas(self, environment: str) -> int:
        """waitReplicas with its default filled in (0 in dev and without replicas)."""
        if self.wait_replicas is not None:
            return self.wait_replicas
        return 0 if environment == "dev" or not self.replicas_per_shard else 1

    @property
    def nodes(self) -> int:
        """Redis processes of the in-cluster cluster: shards x (1 + replicas)."""
        return self.shards * (1 + self.replicas_per_shard)

    def tag_of(self, queue: str) -> str:
        """The hash tag of a queue: its group's tag, or its own name."""
        for group in self.tag_groups:
            if queue in group.queues:
                return group.tag
        return queue

    def layout_problems(self, queue_names: list[str]) -> list[tuple[str, str]]:
        """(field path, message) for groups and flows naming unknown queues or crossing slots."""
        known = set(queue_names)
        problems: list[tuple[str, str]] = []
        for i, group in enumerate(self.tag_groups):
            unknown = sorted(set(group.queues) - known)
            if unknown:
                problems.append(
                    (f"redis.cluster.tagGroups[{i}].queues", f"unknown queues: {unknown}")
                )
        for i, flow in enumerate(self.flows):
            path = f"redis.cluster.flows[{i}].queues"
            unknown = sorted(set(flow.queues) - known)
            if unknown:
                problems.append((path, f"unknown queues: {unknown}"))
                continue
            tags = {q: self.tag_of(q) for q in flow.queues}
            if len(set(tags.values())) > 1:
                shown = ", ".join(f"{q} {{{t}}}" for q, t in tags.items())
                problems.append(
                    (
                        path,
                        f"flow {flow.name!r} crosses hash slots ({shown}): a flow's jobs "
                        "must share one slot; put these queues in one redis.cluster.tagGroups "
                        "entry",
                    )
                )
        return problems
