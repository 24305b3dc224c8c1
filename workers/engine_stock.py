"""The stock engine: Python bullmq's own `Worker` behind the Engine interface.

Everything camelCase and every library quirk stays in this module:
- jobs sent without `attempts` (e.g. by a Node producer) get the spec's;
- the retry delay comes from the runtime (`hooks.retry_delay_ms`, which adds
  jitter that Python bullmq's built-in strategies ignore), through bullmq's
  custom-strategy hook, in memory only: the job's stored opts are untouched;
- data that is not JSON reaches the runtime as `MalformedData` instead of
  breaking the fetch (the job would otherwise sit in `active` until it stalls);
- a job hash it cannot read (workers/job_hash.py) fails at once as InvalidJob;
- progress of the fetch loop is stamped for liveness.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from bullmq import Job, Worker
from bullmq.custom_errors import DelayedError, UnrecoverableError
from redis.exceptions import OutOfMemoryError

from workers.engine import EngineConfig, EngineHooks, JobView, Process
from workers.errors import Deferred, InvalidJob
from workers.job_hash import check_job_hash
from workers.logs import get_logger
from workers.payloads import MalformedData

# Name of the in-memory backoff type that routes bullmq's delay computation to us.
_PLATFORM_BACKOFF = "bullmq-platform"
log = get_logger("engine")


class _PlatformWorker(Worker):  # type: ignore[misc]
    progress: float = 0.0

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
        try:
            job = await super().nextJobFromJobData(
                job_data, job_id, limit_until, delay_until, token
            )
        except json.JSONDecodeError as exc:
            if not job_data or "data" not in job_data:
                raise
            raw = str(job_data["data"])
            patched = {**job_data, "data": "null"}
            job = await super().nextJobFromJobData(patched, job_id, limit_until, delay_until, token)
            if job is not None:
                job.data = MalformedData(raw, f"{exc.msg} at position {exc.pos}")
        if job is not None and problem is not None:
            job.platform_problem = problem  # failed at once by StockEngine._processor
        return job


def _view(job: Job) -> JobView:
    return JobView(
        id=str(job.id),
        name=str(job.name),
        data=job.data,
        attempts_made=int(job.attemptsMade),
        max_attempts=int(job.opts.get("attempts") or 1),
        timestamp_ms=int(job.timestamp or 0),
        stacktrace=list(job.stacktrace or []),
    )


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
            "connection": {**cfg.connection, "encoding_errors": "surrogateescape"},
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
        worker.progress = time.monotonic()
        worker.on("completed", self._completed)
        worker.on("failed", self._failed)
        worker.on("error", self._error)
        self._worker = worker
        self._run = asyncio.ensure_future(worker.run())

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
        original = job.opts.get("backoff", {}).get("original")
        return self.hooks.retry_delay_ms(_view(job), original)

    async def _processor(self, job: Job, token: str) -> Any:
        if not job.opts.get("attempts"):
            job.opts["attempts"] = self.config.default_attempts
        job.attempts = job.opts["attempts"]
        job.opts["backoff"] = {"type": _PLATFORM_BACKOFF, "original": job.opts.get("backoff")}
        self._active[str(job.id)] = (job, token)
        try:
            if problem := getattr(job, "platform_problem", None):
                raise InvalidJob(problem)
            return await self.process(_view(job))
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
        self._spawn(self.hooks.on_completed(_view(job), result))

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
