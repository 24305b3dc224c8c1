"""One worker process: start, run jobs, drain on SIGTERM, close.

A job's life here (engine-neutral): validate (InvalidJob -> unrecoverable),
check the tenant's active limit (Deferred), run the handler under the queue's
job timeout (async on the loop, `blocking` ones in a thread), then count and
log the outcome; after the last attempt the job goes to the dead-letter queue.

Shutdown (SIGTERM, as Kubernetes sends on scale-in or rollout): stop fetching,
let active jobs finish for the pod's grace period minus a margin, hand the rest
back to the queue, close connections, exit 0. terminationGracePeriodSeconds
exceeds jobTimeoutSeconds (the spec enforces it), so a drain normally finishes
every job.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import islice
from types import CodeType
from typing import Any

from pydantic import BaseModel
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NoPermissionError,
    OutOfMemoryError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from platform_spec.job_options import retention
from platform_spec.model import PlatformSpec, Queue
from platform_spec.settings import RedisSettings, RuntimeSettings
from workers.connection import (
    bullmq_connection,
    connect,
    redis_client,
    round_trip_seconds,
)
from workers.cron import patch_bullmq_cron
from workers.deadlines import JobDeadlines
from workers.dlq import DeadLetterQueue
from workers.dlq_reconcile import DeadLetterReconciler
from workers.dlq_writer import DeadLetterWriter
from workers.engine import Engine, EngineConfig, JobView
from workers.engine_factory import create_engine, pick_engine
from workers.errors import (
    Deferred,
    Discarded,
    InvalidJob,
    JobMoved,
    JobTimeout,
    StartupError,
)
from workers.health import HealthServer, clock_skew_seconds
from workers.job import Job, JobServices
from workers.job_log import CompletionLog
from workers.logs import get_logger, set_level
from workers.loop_watch import LoopWatch
from workers.metrics import WorkerMetrics
from workers.options import retry_delay_ms
from workers.partitioned_engine import PartitionedEngine
from workers.payloads import tenant_of, validate_job
from workers.producer import Producer
from workers.rate_limit import apply_rate_limit
from workers.registry import JobContext, JobHandler, load_registry
from workers.replication_ack import NotReplicated
from workers.runs import SKIPPED_RESULT, should_skip_overlap
from workers.settings import WorkerSettings

log = get_logger("runtime")
# Delay before a job of a tenant at its active limit is tried again.
TENANT_RETRY_MS = 1000
# Delay before a job whose handler hit a full Redis is tried again.
REDIS_FULL_RETRY_MS = 1000
# A handler's enqueue that too few replicas acknowledged: run the job again after this long
# (its enqueue repeats with the same job id, which BullMQ deduplicates).
NOT_REPLICATED_RETRY_MS = 1000
# Start-up: attempts to reach Redis before giving up (about 30 s with the backoff).
STARTUP_ATTEMPTS = 8
# Dead letters still queued at shutdown get this long to be written (after the drain).
DLQ_FLUSH_SECONDS = 10.0
STARTUP_RETRY_FIRST_DELAY_SECONDS = 0.5
STARTUP_RETRY_MAX_DELAY_SECONDS = 8.0
# Run times kept for the finish hooks, at most (then the newest half is kept): far more
# than can wait for one (a worker runs at most 1000 jobs at once,
# platform_spec/sections/queues.py), so only entries whose hook never came are dropped (a
# finish Redis refused after the job's lock was lost).
ELAPSED_KEPT = 10_000


@dataclass
class Lane:
    """One BullMQ queue this worker consumes: the queue itself, or one of its partitions
    (`queues[].partitions`; workers/partitioned_engine.py)."""

    name: str
    index: int
    services: JobServices | None = None


class LaneHooks:
    """The engine hooks of one partition: the runtime's, told which partition finished
    the job (job ids count per partition, and a dead letter names its partition)."""

    def __init__(self, runtime: WorkerRuntime, lane: Lane) -> None:
        self.runtime = runtime
        self.lane = lane

    def retry_delay_ms(self, job: JobView, opts_backoff: Any, attempts_made: int) -> int:
        return self.runtime.retry_delay_ms(job, opts_backoff, attempts_made)

    def on_completed(self, job: JobView, result: Any) -> None:
        self.runtime.on_completed(job, result, self.lane)

    async def on_failed(self, job: JobView, error: BaseException, final: bool) -> None:
        await self.runtime.on_failed(job, error, final, self.lane)


class WorkerRuntime:
    """The worker of one queue: engine + handlers + DLQ + metrics + health.

    A partitioned queue (`partitions: K`) runs one engine per partition, each with
    its share of `concurrency`, behind one PartitionedEngine; handlers, metrics, logs,
    the DLQ and the health server see the one queue (logs name the partition too).
    """

    def __init__(
        self,
        spec: PlatformSpec,
        queue_name: str,
        redis: RedisSettings,
        runtime: RuntimeSettings | None = None,
        worker: WorkerSettings | None = None,
        engine: str | None = None,
    ) -> None:
        if redis.cluster != spec.redis.is_cluster:
            raise ValueError(
                f"redis.mode {spec.redis.mode!r} and BULLMQ_PLATFORM_REDIS_CLUSTER "
                f"({redis.cluster}) disagree: the chart sets the env var from the spec"
            )
        self.spec = spec
        self.queue: Queue = spec.queue(queue_name)
        self.redis_settings = redis
        self.runtime_settings = runtime or RuntimeSettings()
        self.settings = worker or WorkerSettings()
        self.engine_kind = pick_engine(engine, redis.cluster)
        self.registry = load_registry(self.queue)
        self.metrics = WorkerMetrics(self.queue.name, self.registry.names)
        self.connection = bullmq_connection(redis)
        self.redis = redis_client(redis)
        self.lanes = [Lane(name, i) for i, name in enumerate(self.queue.partition_names)]
        self.partitioned = len(self.lanes) > 1
        self.dlq = DeadLetterQueue(
            self.queue,
            spec.queue_prefix(queue_name),
            self.connection,
            {lane.name: spec.queue_prefix(lane.name) for lane in self.lanes},
        )
        self.dead_letters = DeadLetterWriter(self.dlq, self._dead_lettered)
        # One reconciler per partition, each with its own checkpoint (failed scores and
        # job ids are per BullMQ queue), all writing the queue's one DLQ.
        self.reconcilers = [
            DeadLetterReconciler(
                self.dlq,
                connect(self.connection, decode_responses=False),
                spec.queue_keys(lane.name),
                spec.platform_keys().dlq_checkpoint(lane.name),
                self.metrics.dead_letters_recovered.labels(self.queue.name).inc,
            )
            for lane in self.lanes
        ]
        self.reconciler = self.reconcilers[0]
        self.producer = Producer(spec, self.connection)
        self.pool = ThreadPoolExecutor(
            max_workers=self.queue.concurrency, thread_name_prefix=f"job-{self.queue.name}"
        )
        self.tenants: Counter[str] = Counter()
        self.engine: Engine | None = None
        self.loop_watch: LoopWatch | None = None
        self.loop_watches: list[LoopWatch] = []
        self.health: HealthServer | None = None
        self.draining = False
        self._elapsed: dict[tuple[str, str], float] = {}
        self.completions = CompletionLog(
            log,
            self.queue.name,
            self.settings.job_log_interval_seconds,
            self.settings.slow_job_seconds,
        )
        # Read once instead of per job (the spec does not change while the process runs).
        self._timeout = float(self.queue.job_timeout_seconds)
        self.deadlines = JobDeadlines()
        self._tenant_limit = self.queue.tenancy.max_active_per_tenant
        self._stop = asyncio.Event()
        # Only queues that receive schedules patch bullmq's cron strategy (cron ticks need
        # the DST-correct one, workers/cron.py) or check overlaps (workers/runs.py).
        schedules = [x for x in spec.schedules if x.enabled and x.queue == queue_name]
        self._has_cron_ticks = any(x.cron is not None for x in schedules)
        self._skips_overlap = any(x.overlap == "skip" for x in schedules)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Reach Redis, set the queue's rate limit, serve the probes, start fetching; then
        what the first jobs do not need (loop watch, clock skew), so they start sooner."""
        if self._has_cron_ticks:
            # A worker computes a scheduler's next tick when it fetches the current one:
            # it must use the same DST-correct cron computation as the scheduler.
            patch_bullmq_cron()
        await self.wait_for_redis()
        q = self.queue
        engines = [self._lane_engine(lane) for lane in self.lanes]
        self.engine = (
            PartitionedEngine(engines, [q.partition_concurrency(lane.index) for lane in self.lanes])
            if self.partitioned
            else engines[0]
        )
        self.health = HealthServer(self)
        await self.health.start(self.runtime_settings.http_host, self.runtime_settings.http_port)
        self.completions.start()
        self.dead_letters.start()
        if q.dead_letter.enabled:
            for reconciler in self.reconcilers:
                reconciler.start(self.settings.dlq_reconcile_interval_seconds)
        await self.engine.start()
        for lane, engine in zip(self.lanes, engines, strict=True):
            # One lock-renewing thread per partition (locks are keyed by it); only the
            # first reports a blocked loop, so one block is one log line and one sample.
            watch = LoopWatch(
                connection=self.connection,
                prefix=self.spec.queue_prefix(lane.name),
                queue=lane.name,
                lock_duration_ms=self.settings.lock_duration_ms,
                active_locks=engine.active_locks,
                handlers=self._handler_codes(),
                observe=self._loop_blocked,
                report_after_seconds=self.settings.loop_block_report_seconds,
                report_blocks=lane.index == 0,
            )
            await watch.start()
            self.loop_watches.append(watch)
        self.loop_watch = self.loop_watches[0]
        # Known from the start, then refreshed by every /readyz (workers/health.py); a
        # gauge, never a reason to stop a worker that is already fetching.
        with contextlib.suppress(Exception):
            skew = await clock_skew_seconds(self.redis)
            self.metrics.clock_skew.labels(self.queue.name).set(skew)
        log.info(
            "worker started",
            extra={
                "queue": q.name,
                "engine": self.engine_kind,
                "concurrency": q.concurrency,
                "partitions": len(self.lanes),
                "jobs": self.registry.names,
                "redis": self.redis_settings.describe(),
                "httpPort": self.health.port,
            },
        )

    def _lane_engine(self, lane: Lane) -> Engine:
        """The engine of one partition (the queue itself when not partitioned)."""
        q = self.queue
        config = EngineConfig(
            queue=lane.name,
            prefix=self.spec.queue_prefix(lane.name),
            connection=self.connection,
            concurrency=q.partition_concurrency(lane.index),
            default_attempts=q.attempts,
            lock_duration_ms=self.settings.lock_duration_ms,
            stalled_interval_ms=self.settings.stalled_interval_ms,
            max_stalled_count=self.settings.max_stalled_count,
            drain_delay_seconds=self.settings.drain_delay_seconds,
            remove_on_complete=retention(q.remove_on_complete),
            remove_on_fail=retention(q.remove_on_fail),
        )
        own = self.producer.bull_queue(lane.name)
        lane.services = JobServices(
            self.spec.queue_keys(lane.name), own.backend, self.redis, self.enqueue
        )
        if not self.partitioned:
            return create_engine(self.engine_kind, config, self.process, self)
        return create_engine(
            self.engine_kind, config, partial(self.process, lane=lane), LaneHooks(self, lane)
        )

    async def wait_for_redis(self) -> None:
        """Reach Redis before anything else and set the queue's limits, and say why not.

        What waiting cannot fix (a refused password, a CA that does not match)
        fails at once with the reason; an unreachable Redis is retried a bounded
        number of times, each failure logged with the retries left. Either way
        the process exits non-zero with a log line an operator can act on,
        instead of retrying silently inside the client library. The limits are
        set inside the same retry (they are idempotent): a failover between the
        PING and them used to end the process with a traceback (drill:
        tests/drills/test_it_should_fail_over_to_a_replica_without_losing_jobs.py).
        """
        where = self.redis_settings.describe()
        delay = STARTUP_RETRY_FIRST_DELAY_SECONDS
        for remaining in range(STARTUP_ATTEMPTS - 1, -1, -1):
            try:
                await round_trip_seconds(self.redis)
                await self.apply_queue_limits()
                return
            except (AuthenticationError, AuthorizationError, NoPermissionError) as exc:
                raise StartupError(
                    f"Redis at {where} refused ACL user {self.redis_settings.username!r}: "
                    f"{type(exc).__name__}: {exc} (check the password file and the ACL)"
                ) from None
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if "certificate verify failed" in str(exc):
                    raise StartupError(
                        f"TLS to Redis at {where} failed: {exc} (is the CA file the platform's?)"
                    ) from None
                if remaining == 0:
                    raise StartupError(
                        f"Redis at {where} unreachable after {STARTUP_ATTEMPTS} attempts: {exc}"
                    ) from None
                log.warning(
                    "redis unreachable, retrying",
                    extra={"redis": where, "error": str(exc), "retriesRemaining": remaining},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, STARTUP_RETRY_MAX_DELAY_SECONDS)

    async def apply_queue_limits(self) -> None:
        """The spec's global rate limit (Python bullmq's Worker has no `limiter`);
        a limit the platform did not set is left alone (workers/rate_limit.py). A
        partitioned queue's limit is split: each partition gets max // K per window."""
        limit = self.queue.rate_limit
        if limit is not None and self.partitioned:
            share = limit.max // len(self.lanes)
            limit = limit.model_copy(update={"max": share})
        for lane in self.lanes:
            meta = self.spec.queue_keys(lane.name).meta
            done = await apply_rate_limit(self.redis, meta, limit)
            log.info(
                "rate limit",
                extra={"queue": self.queue.name, "bullQueue": lane.name, "rateLimit": done},
            )

    async def stop(self) -> None:
        """Drain: stop fetching, finish active jobs within the grace period, close."""
        if self.draining:
            return
        self.draining = True
        budget = max(self.queue.grace_period_seconds - self.settings.drain_margin_seconds, 1.0)
        active = self.engine.active if self.engine else 0
        log.info("draining", extra={"queue": self.queue.name, "active": active, "budget": budget})
        handed_back = await self.engine.stop(budget) if self.engine else 0
        log.info("drained", extra={"queue": self.queue.name, "handedBack": handed_back})
        await self.dead_letters.stop(DLQ_FLUSH_SECONDS)
        for reconciler in self.reconcilers:
            await reconciler.stop()
        await self.completions.stop()
        await self.deadlines.close()
        for watch in self.loop_watches:
            await watch.stop()
        if self.health:
            await self.health.stop()
        await self.dlq.close()
        await self.producer.close()
        await self.redis.aclose()
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def run_until_signal(self) -> None:
        """Start, run until SIGTERM/SIGINT, drain, close."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        await self.start()
        await self._stop.wait()
        log.info("signal received", extra={"queue": self.queue.name})
        await self.stop()

    def request_stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------ one job

    async def process(self, job: JobView, lane: Lane | None = None) -> Any:
        """Run one attempt of a job; raise to fail it (see workers.engine). `lane`: the
        partition it came from (None: the queue is not partitioned)."""
        lane = lane or self.lanes[0]
        if self._skips_overlap and await should_skip_overlap(
            self.redis, self.spec, lane.name, job.id
        ):
            log.info(
                "tick skipped: its previous run is still active",
                extra=self._fields(job, "skipped"),
            )
            return SKIPPED_RESULT
        series = self.metrics.series(job.name)
        if job.attempts_made == 0:
            # Queueing time of a first attempt (retries wait for their backoff: not queueing).
            due_ms = job.timestamp_ms + job.delay_ms
            series.wait.observe(max(0.0, time.time() - due_ms / 1000))
        handler, payload = validate_job(self.queue, self.registry, job.name, job.data)
        tenant = tenant_of(job.data)
        limit = self._tenant_limit
        if tenant and limit is not None and self.tenants[tenant] >= limit:
            raise Deferred(TENANT_RETRY_MS, f"tenant {tenant} at its active limit {limit}")
        assert lane.services is not None, "process() before start()"
        handle = Job(lane.services, job, payload)
        # Positional, in JobContext's field order (built per job; keywords cost twice as much).
        ctx = JobContext(
            job.id,
            job.name,
            self.queue,
            self.spec,
            job.attempts_made + 1,  # attempt
            tenant,
            self.redis,
            self.enqueue,
            {"connection": self.connection},  # extras
            job=handle,
        )
        if tenant:
            self.tenants[tenant] += 1
        series.active.inc()
        started = time.perf_counter()
        hooked = True  # a completion or failure hook will take the elapsed time
        try:
            return await self._run(handler, payload, ctx, handle)
        except (Deferred, JobMoved):
            # Put back or moved by the handler: neither engine calls a hook for these, and
            # an entry nobody pops would stay for the process's life (a flow's parent every
            # time it waits for its children).
            hooked = False
            raise
        except InvalidJob:
            raise
        except Exception as exc:
            if handle.discarded:
                raise Discarded(str(exc) or type(exc).__name__) from exc
            raise
        finally:
            elapsed = time.perf_counter() - started
            series.duration.observe(elapsed)
            series.active.dec()
            if tenant:
                self._release_tenant(tenant)
            if hooked:
                kept = self._elapsed
                key = (lane.name, job.id)
                kept.pop(key, None)  # a job run again here (stalled, then fetched) goes last
                kept[key] = elapsed
                if len(kept) > ELAPSED_KEPT:
                    self._trim_elapsed()

    def _trim_elapsed(self) -> None:
        """Keep the newest half of the run times: the older ones' hooks never came. In one
        go, not one entry per job: deleting a dict's first entry again and again walks the
        holes left before it (5 us a job when every finish is refused; this, 0.13 us)."""
        kept = self._elapsed
        self._elapsed = dict(islice(kept.items(), len(kept) - ELAPSED_KEPT // 2, None))

    def _release_tenant(self, tenant: str) -> None:
        self.tenants[tenant] -= 1
        if self.tenants[tenant] <= 0:
            del self.tenants[tenant]

    async def _run(
        self, handler: JobHandler, payload: BaseModel, ctx: JobContext, handle: Job
    ) -> Any:
        """The handler under the queue's job timeout (async on the loop, `blocking` ones in
        the pool); a full Redis, or a handler's enqueue too few replicas acknowledged, puts
        the job back without spending an attempt."""
        timeout = self._timeout
        call: Awaitable[Any]
        if handler.blocking:
            loop = asyncio.get_running_loop()
            call = loop.run_in_executor(self.pool, handler.func, payload, ctx)
        else:
            call = handler.func(payload, ctx)
        deadline = self.deadlines.limit(timeout)
        try:
            with deadline:
                return await call
        except TimeoutError:
            if deadline.expired:
                handle.abort()
                raise JobTimeout(timeout) from None
            raise
        except OutOfMemoryError:
            # Redis is full, not the job's fault: put it back, no attempt spent.
            raise Deferred(REDIS_FULL_RETRY_MS, "Redis is full (maxmemory)") from None
        except NotReplicated as exc:
            # The child is in Redis but not yet on enough replicas (a resync, a failover):
            # not the job's fault either. No attempt spent; the retry re-adds by job id.
            raise Deferred(NOT_REPLICATED_RETRY_MS, f"enqueue not replicated: {exc}") from None

    async def enqueue(
        self,
        queue_name: str,
        name: str,
        data: Any,
        job_id: str | None = None,
        extra_opts: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> str:
        """Add a job to a queue of the catalog with its spec options (for handlers);
        `extra_opts` adds BullMQ options (a flow child's `parent`); `key` picks a
        partitioned queue's partition (workers/producer.py; else round-robin).

        Past the producers' memory limit this raises RedisNearlyFull (an
        OutOfMemoryError): the calling job is deferred, not failed, while the workers
        drain (memory_guard.py)."""
        added = await self.producer.enqueue(
            queue_name, name, data, key=key, job_id=job_id, extra_opts=extra_opts
        )
        return added.id

    def _handler_codes(self) -> dict[CodeType, str]:
        """Code object of each handler run on the loop -> its job name (for LoopWatch)."""
        codes: dict[CodeType, str] = {}
        for name in self.registry.names:
            handler = self.registry.get(name)
            code = getattr(handler.func, "__code__", None) if handler else None
            if isinstance(code, CodeType) and handler and not handler.blocking:
                codes.setdefault(code, name)
        return codes

    def _loop_blocked(self, job_name: str, seconds: float) -> None:
        """Called from LoopWatch's thread once a blocked loop is back."""
        self.metrics.loop_blocked.labels(self.queue.name, self.metrics.job(job_name)).observe(
            seconds
        )

    # ------------------------------------------------------------ engine hooks

    def retry_delay_ms(self, job: JobView, opts_backoff: Any, attempts_made: int) -> int:
        return retry_delay_ms(opts_backoff, self.queue.backoff, attempts_made)

    def on_completed(self, job: JobView, result: Any, lane: Lane | None = None) -> None:
        lane = lane or self.lanes[0]
        self.metrics.series(job.name).completed.inc()
        seconds = self._elapsed.pop((lane.name, job.id), 0.0)
        self.completions.completed(
            job.name, seconds, lambda: self._fields(job, "completed", seconds, lane)
        )

    async def on_failed(
        self, job: JobView, error: BaseException, final: bool, lane: Lane | None = None
    ) -> None:
        lane = lane or self.lanes[0]
        series = self.metrics.series(job.name)
        reason = (
            "invalid"
            if isinstance(error, InvalidJob)
            else "timeout"
            if isinstance(error, JobTimeout)
            else "error"
        )
        series.failed(reason).inc()
        seconds = self._elapsed.pop((lane.name, job.id), 0.0)
        fields = self._fields(job, "failed" if final else "retrying", seconds, lane)
        fields.update(error=str(error), reason=reason)
        if not final:
            series.retried.inc()
            log.warning("job failed, will retry", extra=fields)
            return
        log.error("job failed", extra=fields)
        if not self.queue.dead_letter.enabled:
            return
        self.dead_letters.put(
            job_id=job.id,
            name=job.name,
            data=job.data if isinstance(job.data, dict | list | str | int | float) else None,
            error=str(error),
            stacktrace=job.stacktrace,
            attempts_made=job.attempts_made,
            tenant_id=tenant_of(job.data),
            source=lane.name,
        )

    def _dead_lettered(self, job_name: str) -> None:
        self.metrics.series(job_name).dead_lettered.inc()

    def _fields(
        self, job: JobView, outcome: str, seconds: float = 0.0, lane: Lane | None = None
    ) -> dict[str, Any]:
        fields = {
            "queue": self.queue.name,
            "jobId": job.id,
            "jobName": job.name,
            "attempt": job.attempts_made,
            "outcome": outcome,
            "seconds": round(seconds, 6),
            "tenantId": tenant_of(job.data),
        }
        if self.partitioned and lane is not None:
            fields["partition"] = lane.name
        return fields


async def run_worker(
    queue_name: str, engine: str | None, spec: PlatformSpec, runtime_settings: RuntimeSettings
) -> None:
    """Entry point of `python -m workers --queue NAME` (workers/worker_command.py has read
    the settings and the spec)."""
    try:
        runtime = WorkerRuntime(spec, queue_name, RedisSettings(), runtime_settings, engine=engine)
    except ValueError as exc:
        log.error("worker cannot start", extra={"queue": queue_name, "reason": str(exc)})
        raise SystemExit(2) from None
    # The spec's level for this queue; BULLMQ_PLATFORM_LOG_LEVEL (the chart sets it from
    # the same field) wins when set, so one pod can be switched with `kubectl set env`.
    set_level(runtime_settings.log_level or runtime.queue.log_level)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await runtime.run_until_signal()
    except StartupError as exc:
        log.error("worker cannot start", extra={"queue": queue_name, "reason": str(exc)})
        await runtime.redis.aclose()
        raise SystemExit(1) from None
