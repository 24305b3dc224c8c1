"""The stock engine: Python bullmq's own `Worker` behind the Engine interface.

Everything camelCase and every library quirk stays in this module:
- jobs sent without `attempts` (e.g. by a Node producer) get the spec's;
- the retry delay comes from the runtime (`hooks.retry_delay_ms`, which adds
  jitter that Python bullmq's built-in strategies ignore), through bullmq's
  custom-strategy hook, in memory only: the job's stored opts are untouched;
- data that is not JSON reaches the runtime as `MalformedData` instead of
  breaking the fetch (the job would otherwise sit in `active` until it stalls),
  and so does data holding a lone UTF-16 surrogate, as the fast engine decides;
- the blocking wait for the next job times out in milliseconds, not whole
  seconds (`every` schedulers otherwise lose slots);
- a handler's `JobMoved` (waiting for children) becomes bullmq's
  WaitingChildrenError, so the worker leaves the job alone;
- a scheduler's next iteration is added again through a failover's refusals;
- a job hash it cannot read (workers/job_hash.py) fails at once as InvalidJob;
- progress of the fetch loop is stamped for liveness.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import orjson
from bullmq import Job, Worker
from bullmq.custom_errors import DelayedError, UnrecoverableError, WaitingChildrenError
from redis.exceptions import OutOfMemoryError

from workers.connection import bullmq_connection_arg
from workers.engine import EngineConfig, EngineHooks, JobView, Process
from workers.errors import Deferred, InvalidJob, JobMoved
from workers.job_hash import check_job_hash
from workers.logs import get_logger
from workers.next_tick import add_next_tick
from workers.payloads import MalformedData

# Name of the in-memory backoff type that routes bullmq's delay computation to us.
_PLATFORM_BACKOFF = "bullmq-platform"
log = get_logger("engine")


class _PlatformWorker(Worker):  # type: ignore[misc]
    progress: float = 0.0
    run_task: asyncio.Future[None] | None = None  # the task running `run()` (StockEngine.start)

    async def close(self, force: bool = False) -> None:
        """Close the connections only once no task of this worker can use them.

        bullmq's close() waits for the tasks running when it is called, then closes
        the connections. A fetch in flight at that moment can still bring a job, and
        the run loop starts its processing after: the job's finishing command then
        reopened a connection nobody closed (an open client in Redis, a
        ResourceWarning at exit). So stop fetching (as close() starts), wait for the
        run loop to end (it starts no task after) and for every task it started, then
        close. `force` (after cancelProcessing) closes at once, as bullmq does. Test:
        tests/workers/test_it_should_close_its_connections_when_stopped_mid_fetch.py
        """
        self.closing = True
        self.paused = False
        self.resume_event.set()
        if self.waiting is not None:
            self.waiting.cancel()
        if not force:
            if self.run_task is not None:
                await asyncio.wait({self.run_task})
            running = {task for task in self.processing if not task.done()}
            if running:
                await asyncio.wait(running)
        await super().close(force)

    async def _scheduleNextIteration(self, job: Job) -> None:
        """bullmq's step, sent again through a failover's refusals (NOREPLICAS from a
        new primary without a replica yet) for a quarter of the lock: bullmq retries
        only connection errors, and a refused add left the chain to the scheduler's
        repair (workers/next_tick.py; the script is idempotent). A quarter: bullmq runs
        this before the tick's processing starts, so it must end well before the lock."""
        await add_next_tick(
            self,
            str(job.repeatJobKey),
            (job.opts or {}).get("repeat"),
            job.name,
            job.data,
            job.opts or {},
            str(job.id),
            retry_seconds=int(self.opts.get("lockDuration") or 30_000) / 4000,
        )

    async def moveToActive(self, token: str) -> Any:
        job = await super().moveToActive(token)
        self.progress = time.monotonic()
        return job

    async def nextJobFromJobData(
        self,
        job_data: dict[str, Any] | None = None,
        job_id: str | None = None,
        limit_until: int = 0,
        delay_until: int = 0,
        token: str | None = None,
    ) -> Any:
        problem = None
        if job_data:
            checked = check_job_hash(job_data)
            problem = checked.problem
            if problem is not None:
                job_data = checked.fields
                if checked.repairs and job_id:
                    # A counter the failing script increments must be a number first.
                    await self.client.hset(
                        f"{self.qualifiedName}:{job_id}", mapping=checked.repairs
                    )
        raw = job_data.get("data") if job_data else None
        error = lone_surrogate_error(raw) if isinstance(raw, str) else None
        job = None
        if error is None:
            try:
                job = await super().nextJobFromJobData(
                    job_data, job_id, limit_until, delay_until, token
                )
            except json.JSONDecodeError as exc:
                if not job_data or "data" not in job_data:
                    raise
                error = f"{exc.msg} at position {exc.pos}"
        if error is not None:
            assert job_data is not None
            patched = {**job_data, "data": "null"}
            job = await super().nextJobFromJobData(patched, job_id, limit_until, delay_until, token)
            if job is not None:
                job.data = MalformedData(str(job_data["data"]), error)
        if job is not None and problem is not None:
            job.platform_problem = problem  # failed at once by StockEngine._processor
        return job


def lone_surrogate_error(raw: str) -> str | None:
    """Refuse a lone UTF-16 surrogate (`"\\ud83d"`) as the fast engine does.

    Node's JSON.stringify writes one as an escape; Python's json module decodes it to a
    str that cannot be encoded as UTF-8 (so it breaks later, in a log line or a
    Redis write), while orjson (the fast engine's parser) refuses it. Both engines
    refuse it: the job fails at once as invalid, and the reason names the position.
    Only data holding a `\\uD8xx`-style escape is parsed a second time.
    """
    if "\\ud" not in raw and "\\uD" not in raw:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return str(exc)
    return None


def _parent(job: Job) -> dict[str, str] | None:
    parent = job.parent
    if not isinstance(parent, dict) or "id" not in parent:
        return None
    return {"id": str(parent["id"]), "queue": str(parent.get("queueKey") or "")}


def _opts(job: Job) -> dict[str, Any]:
    """The job's options as stored (the backoff the processor swapped in memory put back)."""
    backoff = job.opts.get("backoff")
    if isinstance(backoff, dict) and backoff.get("type") == _PLATFORM_BACKOFF:
        return {**job.opts, "backoff": backoff.get("original")}
    return dict(job.opts)


def _view(job: Job, token: str = "") -> JobView:
    return JobView(
        id=str(job.id),
        name=str(job.name),
        data=job.data,
        attempts_made=int(job.attemptsMade),
        max_attempts=int(job.opts.get("attempts") or 1),
        timestamp_ms=int(job.timestamp or 0),
        stacktrace=list(job.stacktrace or []),
        opts=_opts(job) if token else job.opts,
        token=token,
        processed_on=int(job.processedOn or 0),
        parent=_parent(job),
    )


def _allow_fractional_block_timeouts(worker: Worker) -> None:
    """Let the blocking wait for the next job time out in milliseconds, not whole seconds.

    Python bullmq rounds its BZPOPMIN timeout UP to whole seconds unless the
    blocking connection's `capabilities` say `canDoubleTimeout`, and only a
    version check sets them, which `Worker` never runs (bullmq/worker.py
    `waitForJob`, bullmq/redis_connection.py `getRedisVersion`). So a delayed job
    (a retry, an `every` scheduler's next tick) was fetched up to a second late;
    the lateness carried over from tick to tick, growing by the loop's own time,
    until a slot was skipped: `every: 1000` ran about 1,090 ms apart. Redis >= 6
    takes fractional timeouts (the platform runs Redis 7).
    """
    for conn in (worker.redisConnection, worker.blockingRedisConnection):
        if conn is not None:
            conn.capabilities = {**conn.capabilities, "canDoubleTimeout": True}


class StockEngine:
    """bullmq.Worker with the platform's hooks."""

    def __init__(self, config: EngineConfig, process: Process, hooks: EngineHooks) -> None:
        self.config = config
        self.process = process
        self.hooks = hooks
        self._worker: _PlatformWorker | None = None
        self._events: set[asyncio.Task[None]] = set()
        self._active: dict[str, tuple[Job, str]] = {}
        self._handing_back = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        cfg = self.config
        opts: dict[str, Any] = {
            # A job hash with invalid UTF-8 must reach check_job_hash, not break the
            # reply's decoding (surrogates keep the bytes; they round-trip on writes).
            "connection": bullmq_connection_arg(
                {**cfg.connection, "encoding_errors": "surrogateescape"}, pooled=True
            ),
            "prefix": cfg.prefix,
            "concurrency": cfg.concurrency,
            "lockDuration": cfg.lock_duration_ms,
            "stalledInterval": cfg.stalled_interval_ms,
            "maxStalledCount": cfg.max_stalled_count,
            "drainDelay": cfg.drain_delay_seconds,
            "removeOnComplete": cfg.remove_on_complete,
            "removeOnFail": cfg.remove_on_fail,
            "settings": {"backoffStrategy": self._backoff},
            "autorun": False,
        }
        worker = _PlatformWorker(cfg.queue, self._processor, opts)
        _allow_fractional_block_timeouts(worker)
        worker.progress = time.monotonic()
        worker.on("completed", self._completed)
        worker.on("failed", self._failed)
        worker.on("error", self._error)
        self._worker = worker
        self._run = asyncio.ensure_future(worker.run())
        worker.run_task = self._run

    async def stop(self, timeout: float) -> int:
        worker = self._worker
        if worker is None:
            return 0
        closing = asyncio.ensure_future(worker.close())
        done, _ = await asyncio.wait({closing}, timeout=max(timeout, 0))
        handed_back = 0
        if not done:
            # Grace exhausted: cancel what still runs and put it back in the queue
            # (moveToDelayed without spending an attempt), so nothing waits for
            # its lock to lapse.
            handed_back = len(self._active)
            self._handing_back = True
            worker.cancelProcessing()
            await asyncio.wait({closing}, timeout=10)
        if self._events:
            await asyncio.wait(self._events, timeout=10)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(self._run, 5)
        return handed_back

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def alive(self) -> bool:
        run = getattr(self, "_run", None)
        return run is not None and not run.done()

    @property
    def last_progress(self) -> float:
        return self._worker.progress if self._worker else 0.0

    def active_locks(self) -> list[tuple[str, str]]:
        return [(job_id, token) for job_id, (_, token) in self._active.copy().items()]

    # ------------------------------------------------------------ jobs

    def _backoff(self, attempts_made: int, _type: str, _err: Any, job: Job) -> int:
        # bullmq's Job.moveToFailed passes attemptsMade + 1: the failed try counts, as in Node.
        original = job.opts.get("backoff", {}).get("original")
        return self.hooks.retry_delay_ms(_view(job), original, attempts_made)

    async def _processor(self, job: Job, token: str) -> Any:
        if not job.opts.get("attempts"):
            job.opts["attempts"] = self.config.default_attempts
        job.attempts = job.opts["attempts"]
        job.opts["backoff"] = {"type": _PLATFORM_BACKOFF, "original": job.opts.get("backoff")}
        self._active[str(job.id)] = (job, token)
        try:
            if problem := getattr(job, "platform_problem", None):
                raise InvalidJob(problem)
            return await self.process(_view(job, token))
        except JobMoved:
            raise WaitingChildrenError() from None
        except Deferred as deferred:
            await job.moveToDelayed(int(time.time() * 1000) + deferred.delay_ms, token)
            raise DelayedError(str(deferred)) from None
        except asyncio.CancelledError:
            if self._handing_back:
                with contextlib.suppress(Exception):
                    await asyncio.shield(job.moveToDelayed(int(time.time() * 1000), token))
            raise
        finally:
            self._active.pop(str(job.id), None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    def _completed(self, job: Job, result: Any) -> None:
        self.hooks.on_completed(_view(job), result)

    def _failed(self, job: Job, err: BaseException) -> None:
        if isinstance(err, DelayedError):
            return
        attempts = int(job.opts.get("attempts") or 1)
        final = isinstance(err, UnrecoverableError) or job.attemptsMade >= attempts
        view = _view(job)
        view.stacktrace = list(job.stacktrace or [])
        self._spawn(self.hooks.on_failed(view, err, final))

    def _error(self, err: BaseException, job: Job | None = None) -> None:
        if isinstance(err, OutOfMemoryError) and self._worker is not None:
            # Redis answered (it is full: noeviction refuses the fetch, a write): the
            # loop is alive, and liveness must not restart the worker for that.
            self._worker.progress = time.monotonic()
        log.warning("worker error", extra={"error": repr(err), "jobId": getattr(job, "id", None)})
