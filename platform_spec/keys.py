"""BullMQ's Redis key names: the only place they are spelled.

For queue Q under prefix P: `P:Q:wait` and `P:Q:active` are lists;
`P:Q:prioritized`, `P:Q:delayed`, `P:Q:waiting-children`, `P:Q:completed` and
`P:Q:failed` are sorted sets; `P:Q:events` is a stream; `P:Q:meta` is a hash
holding `paused`, the global `concurrency` and the rate limit (`max`,
`duration`); `P:Q:limiter` exists while the queue is rate limited; job
schedulers live under `P:Q:repeat`. A prioritized job is not in `wait`, so the
backlog is wait + prioritized. `P:Q:marker` is the zset a worker blocks on
(BZPOPMIN) for new work, `P:Q:pc` the priority counter, `P:Q:stalled` the set
of active job ids the next stalled check examines and `P:Q:stalled-check` the
throttle of that check. A job's hash is `P:Q:<id>`, its lock `P:Q:<id>:lock`.

tests/unit/test_key_names_spelled_once.py greps the tree for these suffixes
outside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

KeyType = Literal["list", "set", "zset", "hash", "stream", "string"]
JobChildrenKind = Literal["processed", "dependencies", "failed", "unsuccessful"]

# The prefix BullMQ uses when none is given (the spec's `keyPrefix` default).
DEFAULT_PREFIX = "bull"

# suffix -> Redis type, as BullMQ's Lua scripts create them.
QUEUE_KEY_TYPES: dict[str, KeyType] = {
    "wait": "list",
    "active": "list",
    "paused": "list",  # legacy (BullMQ < 5 kept paused jobs here)
    "prioritized": "zset",
    "delayed": "zset",
    "waiting-children": "zset",
    "completed": "zset",
    "failed": "zset",
    "repeat": "zset",
    "events": "stream",
    "meta": "hash",
    "limiter": "string",
    "stalled": "set",
    "stalled-check": "string",
    "marker": "zset",
    "pc": "string",
    "id": "string",
}

# Per-queue metrics lists (`P:Q:metrics:<kind>`) the finishing script keeps.
METRICS_KINDS = ("completed", "failed")

# Suffix of a job's lock key (`P:Q:<id>:lock`).
LOCK_SUFFIX = "lock"

# The keys whose sizes make up the work a queue has now (see autoscaling).
WAIT_SUFFIX = "wait"
BACKLOG_SUFFIXES = (WAIT_SUFFIX, "prioritized")
BUSY_SUFFIXES = ("active",)
DELAYED_SUFFIX = "delayed"
FAILED_SUFFIX = "failed"
# The keys whose sizes redis_exporter reports per queue (the chart's exporter and alerts).
EXPORTED_SUFFIXES = (*BACKLOG_SUFFIXES, *BUSY_SUFFIXES, DELAYED_SUFFIX, FAILED_SUFFIX)

# A queue's dead-letter queue is the queue `<queue><DLQ_QUEUE_SUFFIX>` (a queue of its
# own: its keys are `P:<queue>-dlq:wait`, ...).
DLQ_QUEUE_SUFFIX = "-dlq"

# A partitioned queue (`queues[].partitions: K`, K > 1) is K BullMQ queues, partition i
# named `<queue><PARTITION_SEPARATOR><i>` (`orders-p0` ... `orders-p3`); in Redis Cluster
# mode each partition's name is its own hash tag, so the partitions spread over the
# shards. K = 1 is the queue itself, under its own name.
PARTITION_SEPARATOR = "-p"


def partition_queue(queue: str, index: int) -> str:
    """The BullMQ queue holding partition `index` of a partitioned queue."""
    return f"{queue}{PARTITION_SEPARATOR}{index}"


def partition_queues(queue: str, partitions: int) -> list[str]:
    """The BullMQ queues of a queue with `partitions` partitions (itself when 1)."""
    if partitions <= 1:
        return [queue]
    return [partition_queue(queue, i) for i in range(partitions)]


# Fields of `P:Q:meta` that decide what the queue's workers may fetch
# (BullMQ's moveToActive reads them with one HMGET): `paused` set means no job
# starts; `concurrency` caps active jobs across all workers; `max` jobs per
# `duration` ms is the global rate limit, counted in `P:Q:limiter` (INCR, with
# PEXPIRE duration on the first job of a window; `Queue.rateLimit(ms)` writes a
# huge value instead). `opts.maxLenEvents` is written by the first add, so a
# queue that never saw a job, or a wrong prefix, has no meta hash at all.
META_PAUSED = "paused"
META_CONCURRENCY = "concurrency"
META_RATE_MAX = "max"
META_RATE_DURATION = "duration"
META_MAX_LEN_EVENTS = "opts.maxLenEvents"
# Our own field: the `max:duration` rate limit the platform last set from the spec,
# so a limit set by Node (`setGlobalRateLimit`) or a dashboard is never undone
# by a worker start (workers/rate_limit.py).
META_PLATFORM_RATE = "bullmq-platform.rateLimit"

# Job hash fields (`P:Q:<id>`), milliseconds since the epoch.
JOB_TIMESTAMP = "timestamp"  # created (enqueued)
JOB_PROCESSED_ON = "processedOn"  # moved to active
JOB_FINISHED_ON = "finishedOn"  # completed or failed
# Our own field on a failed job's hash: its DLQ entry was retried or purged by an
# operator, so the dead-letter reconciler must not add it again (workers/dlq_reconcile.py).
JOB_DLQ_HANDLED = "bullmq-platform.dlqHandled"

# A delayed job's score in `P:Q:delayed` is due_ms * DELAYED_SCORE_FACTOR + a
# counter (< DELAYED_SCORE_FACTOR): every job due at or before `t` ms scores
# below (t + 1) * DELAYED_SCORE_FACTOR.
DELAYED_SCORE_FACTOR = 0x1000


def delayed_score_bound(due_ms: int) -> int:
    """Highest `delayed` score of a job due at or before `due_ms` (BullMQ's own bound)."""
    return (due_ms + 1) * DELAYED_SCORE_FACTOR - 1


@dataclass(frozen=True)
class QueueKeys:
    """Key names of one queue under one prefix."""

    prefix: str
    queue: str

    def key(self, suffix: str) -> str:
        if suffix not in QUEUE_KEY_TYPES:
            raise KeyError(f"unknown BullMQ key suffix {suffix!r}")
        return f"{self.prefix}:{self.queue}:{suffix}"

    @property
    def pattern(self) -> str:
        """Glob of every key of this queue (ACL rules, SCAN)."""
        return f"{self.prefix}:{self.queue}:*"

    @property
    def wait(self) -> str:
        return self.key("wait")

    @property
    def active(self) -> str:
        return self.key("active")

    @property
    def prioritized(self) -> str:
        return self.key("prioritized")

    @property
    def delayed(self) -> str:
        return self.key("delayed")

    @property
    def completed(self) -> str:
        return self.key("completed")

    @property
    def failed(self) -> str:
        return self.key("failed")

    @property
    def events(self) -> str:
        return self.key("events")

    @property
    def meta(self) -> str:
        return self.key("meta")

    @property
    def limiter(self) -> str:
        return self.key("limiter")

    @property
    def marker(self) -> str:
        return self.key("marker")

    @property
    def stalled(self) -> str:
        return self.key("stalled")

    def metrics(self, kind: str) -> str:
        """`P:Q:metrics:<kind>`: the per-minute counts bullmq keeps for `completed`/`failed`."""
        if kind not in METRICS_KINDS:
            raise KeyError(f"unknown BullMQ metrics kind {kind!r}")
        return f"{self.prefix}:{self.queue}:metrics:{kind}"

    def job_lock(self, job_id: str) -> str:
        """The lock a worker holds on an active job."""
        return f"{self.job(job_id)}:{LOCK_SUFFIX}"

    @property
    def lock_pattern(self) -> str:
        """Glob of every job lock of this queue."""
        return self.job_lock("*")

    @property
    def job_prefix(self) -> str:
        """`P:Q:`: a job's hash is this plus its id (how BullMQ's scripts build it)."""
        return f"{self.prefix}:{self.queue}:"

    def job(self, job_id: str) -> str:
        """The hash holding one job."""
        return f"{self.prefix}:{self.queue}:{job_id}"

    def job_children(self, job_id: str, kind: JobChildrenKind) -> str:
        """A parent's record of its children (Node's Job.getDependencies reads all four):
        `processed` (hash child key -> return value), `dependencies` (set of pending
        child keys), `failed` (hash child key -> reason, children ignored on failure),
        `unsuccessful` (zset of failed child keys, continueParentOnFailure)."""
        return f"{self.prefix}:{self.queue}:{job_id}:{kind}"


def hash_tagged_prefix(prefix: str, tag: str) -> str:
    """`P:{T}`: a queue's prefix in Redis Cluster mode.

    Redis hashes only the text between the first `{` and the next `}`, so every
    key of a queue under this prefix shares one slot (BullMQ's scripts need
    that), queues with different tags spread over the shards, and the ACL
    pattern `P:*` still covers them.
    """
    return f"{prefix}:{{{tag}}}"


def prefix_pattern(prefix: str) -> str:
    """Glob of every key under a BullMQ prefix (the ACL key pattern of the platform)."""
    return f"{prefix}:*"


# ---------------------------------------------------------------- the platform's own keys
# Records the scheduler and the maintenance jobs own. They live under the BullMQ
# prefix, so the `scheduler` and `worker` ACL users (`~<prefix>:*`) may touch
# them, in a `_platform` namespace: a queue name is a DNS-1123 label and cannot
# contain `_`, so no queue's keys collide with them.

PLATFORM_NAMESPACE = "_platform"


@dataclass(frozen=True)
class PlatformKeys:
    """Key names of the platform's own records under one BullMQ prefix.

    `tagged` (Redis Cluster): the namespace is a hash tag, so all these records
    share one slot and the multi-key writes (a rollup and its index in one
    MULTI) stay legal.
    """

    prefix: str
    tagged: bool = False

    def _key(self, *parts: str) -> str:
        namespace = f"{{{PLATFORM_NAMESPACE}}}" if self.tagged else PLATFORM_NAMESPACE
        return ":".join((self.prefix, namespace, *parts))

    @property
    def scheduler_lock(self) -> str:
        """String: the replica that holds it reconciles (SET NX PX)."""
        return self._key("scheduler", "lock")

    def owned(self, owner: str) -> str:
        """Hash `<queue>/<schedule id>` -> fingerprint of what this stack registered."""
        return self._key("scheduler", "owned", owner)

    @property
    def schedule_runs(self) -> str:
        """Hash `<schedule id>:<field>` -> last success / skip timestamps and counts."""
        return self._key("schedules", "runs")

    @property
    def health(self) -> str:
        """String (JSON): the last health-check report."""
        return self._key("health", "last")

    def rollup(self, queue: str, hour: str) -> str:
        """Hash: one queue's metrics for one UTC hour (`YYYYMMDDHH`)."""
        return self._key("rollup", queue, hour)

    def rollup_index(self, queue: str) -> str:
        """Sorted set: rollup hours of a queue, scored by the hour's epoch seconds."""
        return self._key("rollup-index", queue)

    def dlq_checkpoint(self, queue: str) -> str:
        """String: `failed` score (ms) below which every job of `queue` has its DLQ entry
        (workers/dlq_reconcile.py)."""
        return self._key("dlq-checkpoint", queue)

    @property
    def maintenance_reports(self) -> str:
        """Hash `<job name>` -> JSON of its last report."""
        return self._key("maintenance", "last")


def chart_keys() -> dict[str, Any]:
    """What the chart's `bullmq-platform.keys` helper returns (templates/_facts.tpl).

    The KEDA redis triggers (one per backlog and busy key, plus `delayed`),
    redis_exporter's key list and the PrometheusRule's key regexes are built
    from these suffixes, so no template spells a BullMQ key.
    """
    return {
        "backlog": list(BACKLOG_SUFFIXES),
        "busy": list(BUSY_SUFFIXES),
        "delayed": DELAYED_SUFFIX,
        "failed": FAILED_SUFFIX,
        "exported": list(EXPORTED_SUFFIXES),
        "dlqQueueSuffix": DLQ_QUEUE_SUFFIX,
        "dlqBacklog": WAIT_SUFFIX,
        # printf format of partition i of a partitioned queue (queue, index).
        "partitionFormat": f"%s{PARTITION_SEPARATOR}%d",
        # printf format of a regex matching every partition of a queue (queue).
        "partitionPattern": f"%s{PARTITION_SEPARATOR}[0-9]+",
    }
