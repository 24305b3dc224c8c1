"""The scaling signal: what one BullMQ queue can really use now, in one round trip.

One Lua script reads, atomically, everything BullMQ's own `moveToActive`
consults before it hands a worker a job (the `meta` hash's `paused`,
`concurrency`, `max`, `duration`, and the limiter key), the lengths of `wait`,
`prioritized` and `active`, the delayed jobs due now and due soon, the enqueue
time of the next waiting jobs and the run time of recently completed jobs.
`desired_replicas` turns that into the worker pods the queue can keep busy:

    work    = ceil((wait + prioritized + active + delayed due) / target)
    latency = ceil(max(busy, 1) * oldest_age / latencyTarget)   (optional)
    wake    = 1 when a delayed job is due within wakeAheadSeconds
    cap     = paused: busy;  global concurrency C: ceil(C / concurrency);
              rate max/duration: ceil(max * ceil(jobSeconds / duration) / concurrency);
              rate-limited past one window (Queue.rateLimit): busy
    desired = clamp(max(min(max(work, latency, wake), cap), busy), 0, maxReplicas)

where busy = ceil(active / concurrency) (pods running the active jobs are never
scaled in) and concurrency is the queue's per-pod concurrency. KEDA's
`metrics-api` scaler reads `desired` with targetValue 1 (AverageValue), so the
HPA's ceil(metric / target) is exactly this number.

A partitioned queue (`partitions: K`) is read one partition at a time (each
partition is its own slot, maybe its own shard) and the K states are merged
into one (`merge_states`): counts add up, the oldest waiting job is the oldest
of all, the limits add up (each partition holds max / K of the rate limit), and
it is paused only when every partition is.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError

from platform_spec import keys as k
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec, Queue

# Recently completed jobs sampled for the mean run time (rate-limit cap).
DURATION_SAMPLES = 20

# KEYS: meta wait prioritized active delayed limiter completed
# ARGV: job key prefix, due-now bound, due-soon bound, samples
STATE_SCRIPT = """
local rcall = redis.call
local meta = rcall("HMGET", KEYS[1], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
local found = rcall("EXISTS", KEYS[1])
local function num(v) return tonumber(v) or -1 end
local function enqueued(id)
  if not id then return -1 end
  return num(rcall("HGET", ARGV[1] .. id, ARGV[9]))
end
local waitTail = rcall("LINDEX", KEYS[2], -1)
local prioHead = rcall("ZRANGE", KEYS[3], 0, 0)[1]
local durSum, durCount = 0, 0
for _, id in ipairs(rcall("ZREVRANGE", KEYS[7], 0, tonumber(ARGV[4]) - 1)) do
  local t = rcall("HMGET", ARGV[1] .. id, ARGV[10], ARGV[11])
  local started, finished = tonumber(t[1]), tonumber(t[2])
  if started and finished and finished >= started then
    durSum = durSum + (finished - started)
    durCount = durCount + 1
  end
end
return {
  found,
  rcall("LLEN", KEYS[2]),
  rcall("ZCARD", KEYS[3]),
  rcall("LLEN", KEYS[4]),
  rcall("ZCARD", KEYS[5]),
  rcall("ZCOUNT", KEYS[5], 0, ARGV[2]),
  rcall("ZCOUNT", KEYS[5], 0, ARGV[3]),
  meta[1] and 1 or 0,
  num(meta[2]), num(meta[3]), num(meta[4]),
  num(rcall("GET", KEYS[6])),
  rcall("PTTL", KEYS[6]),
  enqueued(waitTail), enqueued(prioHead),
  durSum, durCount
}
"""


class AsyncRedis(Protocol):
    """The slice of `redis.asyncio.Redis` the signal needs (one EVAL/EVALSHA)."""

    def register_script(self, script: str) -> Any: ...


@dataclass(frozen=True)
class QueueState:
    """One queue's state, read atomically. Counts are jobs; times are ms since the epoch."""

    now_ms: int
    found: bool  # the meta hash exists (a wrong prefix, or a queue never used, has none)
    wait: int
    prioritized: int
    active: int
    delayed: int
    delayed_due: int  # due now: the next fetch promotes them, so they are work
    delayed_soon: int  # due within the wake-ahead horizon, due-now ones included
    paused: bool
    concurrency: int | None  # meta `concurrency`: active jobs across all workers
    rate_max: int | None  # meta `max` jobs ...
    rate_duration_ms: int | None  # ... per `duration` ms
    limiter_count: int  # jobs started in the current window (or Queue.rateLimit's value)
    limiter_pttl_ms: int  # -2: no window open
    oldest_enqueued_ms: int | None  # enqueue time of the next waiting jobs (older of both)
    job_seconds: float | None  # mean run time of recent completed jobs

    @property
    def backlog(self) -> int:
        return self.wait + self.prioritized

    @property
    def rate_limited_ms(self) -> int:
        """Milliseconds until a job may start again under the rate limit (BullMQ's rule)."""
        if self.rate_max is None or self.limiter_count < self.rate_max:
            return 0
        return max(self.limiter_pttl_ms, 0)

    @property
    def oldest_wait_seconds(self) -> float:
        if self.oldest_enqueued_ms is None:
            return 0.0
        return max(0.0, (self.now_ms - self.oldest_enqueued_ms) / 1000)


@dataclass(frozen=True)
class ScalingPolicy:
    """The per-queue values the signal needs, taken from the spec."""

    concurrency: int  # jobs in flight per worker pod
    target_per_replica: int  # work (jobs) per pod
    max_replicas: int
    wake_on_delayed: bool = True
    wake_ahead_seconds: int = 60
    latency_target_seconds: int | None = None

    @classmethod
    def from_queue(cls, queue: Queue) -> ScalingPolicy:
        auto = queue.autoscaling
        return cls(
            concurrency=queue.concurrency,
            target_per_replica=auto.target_per_replica or queue.concurrency,
            max_replicas=auto.max_replicas,
            wake_on_delayed=auto.wake_on_delayed,
            wake_ahead_seconds=auto.wake_ahead_seconds,
            latency_target_seconds=auto.latency_target_seconds,
        )


@dataclass(frozen=True)
class Decision:
    """Desired worker pods, and the reasoning behind them (served for people too)."""

    replicas: int
    work: int
    busy: int
    latency: int
    wake: int
    cap: int | None
    reasons: list[str] = field(default_factory=list)


async def read_state(
    redis: AsyncRedis,
    queue_keys: QueueKeys,
    *,
    wake_ahead_seconds: int = 60,
    now_ms: int | None = None,
    samples: int = DURATION_SAMPLES,
) -> QueueState:
    """Read one queue's state with one script call (EVALSHA; EVAL once after a restart).

    `now_ms` is the caller's clock, as BullMQ uses its clients' clocks for
    delayed scores. It needs only read commands on the prefix plus EVAL/EVALSHA.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    script = redis.register_script(STATE_SCRIPT)
    keys = [
        queue_keys.meta,
        queue_keys.wait,
        queue_keys.prioritized,
        queue_keys.active,
        queue_keys.delayed,
        queue_keys.limiter,
        queue_keys.completed,
    ]
    args = [
        queue_keys.job_prefix,
        k.delayed_score_bound(now),
        k.delayed_score_bound(now + wake_ahead_seconds * 1000),
        samples,
        k.META_PAUSED,
        k.META_CONCURRENCY,
        k.META_RATE_MAX,
        k.META_RATE_DURATION,
        k.JOB_TIMESTAMP,
        k.JOB_PROCESSED_ON,
        k.JOB_FINISHED_ON,
    ]
    raw = [int(v) for v in await script(keys=keys, args=args)]
    return state_from_reply(raw, now)


def state_from_reply(raw: list[int], now_ms: int) -> QueueState:
    """QueueState from the script's reply (-1 stands for "not set")."""

    def opt(v: int) -> int | None:
        return None if v < 0 else v

    stamps = [t for t in raw[13:15] if t >= 0]
    dur_sum, dur_count = raw[15], raw[16]
    return QueueState(
        now_ms=now_ms,
        found=bool(raw[0]),
        wait=raw[1],
        prioritized=raw[2],
        active=raw[3],
        delayed=raw[4],
        delayed_due=raw[5],
        delayed_soon=raw[6],
        paused=bool(raw[7]),
        concurrency=opt(raw[8]),
        rate_max=opt(raw[9]),
        rate_duration_ms=opt(raw[10]),
        limiter_count=max(raw[11], 0),
        limiter_pttl_ms=raw[12],
        oldest_enqueued_ms=min(stamps) if stamps else None,
        job_seconds=dur_sum / dur_count / 1000 if dur_count else None,
    )


def _caps(state: QueueState, policy: ScalingPolicy, busy: int) -> list[tuple[int, str]]:
    """Upper bounds on useful pods, each with its reason."""
    conc = policy.concurrency
    caps: list[tuple[int, str]] = []
    if state.paused:
        caps.append((busy, "paused: no job starts; only the pods running active jobs stay"))
    if state.concurrency is not None:
        caps.append(
            (
                math.ceil(state.concurrency / conc),
                f"global concurrency {state.concurrency}: at most that many jobs run at once",
            )
        )
    if state.rate_max is not None and state.rate_duration_ms:
        duration_ms = state.rate_duration_ms
        limited_ms = state.rate_limited_ms
        if limited_ms > duration_ms:
            caps.append(
                (busy, f"rate limited for {limited_ms} ms (longer than one window): no job starts")
            )
        else:
            # At most `max` jobs start per window; a job of d seconds overlaps
            # ceil(d / duration) windows, so that many windows' jobs run at once.
            job_ms = (state.job_seconds or 0) * 1000
            windows = max(1, math.ceil(job_ms / duration_ms))
            slots = state.rate_max * windows
            caps.append(
                (
                    math.ceil(slots / conc),
                    f"rate limit {state.rate_max}/{duration_ms} ms keeps at most {slots} "
                    f"jobs busy (jobs take {job_ms / 1000:.3g} s)",
                )
            )
    return caps


def desired_replicas(state: QueueState, policy: ScalingPolicy) -> Decision:
    """The pods this queue can keep busy now (the metric KEDA reads, target 1)."""
    busy = math.ceil(state.active / policy.concurrency)
    work_jobs = state.backlog + state.active + state.delayed_due
    work = math.ceil(work_jobs / policy.target_per_replica)
    reasons = [f"work {work_jobs} jobs / {policy.target_per_replica} per pod -> {work}"]
    latency = 0
    age = state.oldest_wait_seconds
    if policy.latency_target_seconds and state.backlog and age > policy.latency_target_seconds:
        latency = math.ceil(max(busy, 1) * age / policy.latency_target_seconds)
        reasons.append(f"oldest waiting job {age:.0f} s > {policy.latency_target_seconds} s")
    wake = 1 if policy.wake_on_delayed and state.delayed_soon and not state.paused else 0
    if wake:
        reasons.append(f"{state.delayed_soon} delayed jobs due within the wake-ahead horizon")
    wanted = max(work, latency, wake)
    caps = _caps(state, policy, busy)
    cap = min((c for c, _ in caps), default=None)
    reasons += [why for c, why in caps if c < wanted]
    replicas = wanted if cap is None else min(wanted, cap)
    replicas = min(max(replicas, busy), policy.max_replicas)
    return Decision(replicas, work, busy, latency, wake, cap, reasons)


def plain_redis_metric(state: QueueState) -> int:
    """What the plain `redis`-trigger mode computes: wait + prioritized + active (+1 if delayed).

    Its limits: it cannot read the meta hash, so pause, the global concurrency
    and the rate limit are invisible to it.
    """
    return state.backlog + state.active + (1 if state.delayed else 0)


def merge_states(states: list[QueueState]) -> QueueState:
    """One state for a partitioned queue's K partition states (one state: itself)."""
    if len(states) == 1:
        return states[0]

    def total(values: list[int | None]) -> int | None:
        present = [v for v in values if v is not None]
        return sum(present) if present else None

    stamps = [s.oldest_enqueued_ms for s in states if s.oldest_enqueued_ms is not None]
    timed = [s for s in states if s.job_seconds is not None]
    limited = [s.limiter_pttl_ms for s in states if s.limiter_pttl_ms >= 0]
    durations = [s.rate_duration_ms for s in states if s.rate_duration_ms is not None]
    return QueueState(
        now_ms=states[0].now_ms,
        found=all(s.found for s in states),
        wait=sum(s.wait for s in states),
        prioritized=sum(s.prioritized for s in states),
        active=sum(s.active for s in states),
        delayed=sum(s.delayed for s in states),
        delayed_due=sum(s.delayed_due for s in states),
        delayed_soon=sum(s.delayed_soon for s in states),
        paused=all(s.paused for s in states),
        concurrency=total([s.concurrency for s in states]),
        rate_max=total([s.rate_max for s in states]),
        rate_duration_ms=max(durations) if durations else None,
        limiter_count=sum(s.limiter_count for s in states),
        limiter_pttl_ms=max(limited) if limited else -2,
        oldest_enqueued_ms=min(stamps) if stamps else None,
        job_seconds=sum(s.job_seconds or 0.0 for s in timed) / len(timed) if timed else None,
    )


class QueueNotFound(LookupError):
    """The queue has no meta hash: a wrong key prefix, or a queue that never saw a job."""


async def scaling_payload(
    redis: AsyncRedis,
    spec: PlatformSpec,
    queue_name: str,
    *,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The JSON body KEDA's metrics-api scaler reads for one queue.

    `desiredReplicas` is the metric (valueLocation `desiredReplicas`, targetValue
    1). Raises KeyError for a queue not in the spec and QueueNotFound when
    Redis has no such queue under the spec's prefix: the HTTP handler answers
    404 / 503, KEDA counts a scaler failure and holds the fallback replicas
    instead of reading a silent zero.
    """
    queue = spec.queue(queue_name)
    policy = ScalingPolicy.from_queue(queue)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    states = []
    for keys in spec.partition_keys(queue.name):
        part = await read_state(
            redis, keys, wake_ahead_seconds=policy.wake_ahead_seconds, now_ms=now
        )
        if not part.found:
            raise QueueNotFound(
                f"no {keys.meta} in Redis: wrong keyPrefix, or the queue was never used "
                "(the scheduler registers every queue at start)"
            )
        states.append(part)
    state = merge_states(states)
    decision = desired_replicas(state, policy)
    return {
        "queue": queue.name,
        "partitions": queue.partitions,
        "desiredReplicas": decision.replicas,
        "decision": asdict(decision),
        "state": asdict(state),
    }


async def scaling_response(
    redis: AsyncRedis, spec: PlatformSpec, queue_name: str
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for `GET /scaling/<queue>`: what the scheduler serves."""
    try:
        return 200, await scaling_payload(redis, spec, queue_name)
    except KeyError:
        return 404, {"error": f"queue {queue_name!r} is not in the spec"}
    except QueueNotFound as exc:
        return 503, {"error": str(exc)}
    except RedisError as exc:  # unreachable, NOPERM (a prefix outside the ACL), timeout
        return 503, {"error": f"{type(exc).__name__}: {exc}"}
