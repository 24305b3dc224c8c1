"""The fast loop (workers/engine_fast.py) behind the runtime's Engine interface.

Translates between the loop's FastJob and the runtime's JobView
(workers/engine.py), routes retry delays and outcomes to the runtime's hooks,
and turns non-JSON job data into `MalformedData`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

import orjson

from workers.bullmq_wire import FastJob
from workers.engine import EngineConfig, EngineHooks, JobView, Process
from workers.engine_fast import BadJobData, EngineOptions, FastEngine, from_env_levers
from workers.errors import InvalidJob
from workers.payloads import MalformedData


def job_view(job: FastJob, finished: bool = False) -> JobView:
    stack: list[str] = []
    if job.raw_stacktrace:
        with contextlib.suppress(ValueError):
            stack = list(orjson.loads(job.raw_stacktrace))
    # Positional, in JobView's field order (built per job; keywords cost twice as much).
    return JobView(
        job.id,
        job.name,
        job.data,
        job.attempts_made + (1 if finished else 0),  # attempts_made
        int(job.opts.get("attempts") or 1),  # max_attempts
        job.timestamp,  # timestamp_ms
        stack,  # stacktrace
        job.opts,
        job.token,
        job.processed_on,
        job.parent,
    )


class PlatformFastEngine:
    """FastEngine behind the runtime's `workers.engine.Engine` protocol (`--engine fast`).

    Same contract as workers.engine_stock.StockEngine: the runtime's `process`
    gets a JobView, the retry delay comes from `hooks.retry_delay_ms`, outcomes
    go to the async hooks, non-JSON data arrives as `MalformedData`, and `stop`
    hands back (moveToDelayed, no attempt spent) what is still running when
    the grace period ends.
    """

    def __init__(self, config: EngineConfig, process: Process, hooks: EngineHooks) -> None:
        self.config = config
        self.process = process
        self.hooks = hooks
        self._events: set[asyncio.Future[Any]] = set()
        self._run: asyncio.Future[None] | None = None
        options = EngineOptions(
            concurrency=config.concurrency,
            prefix=config.prefix,
            lock_duration_ms=config.lock_duration_ms,
            stalled_interval_ms=config.stalled_interval_ms,
            max_stalled_count=config.max_stalled_count,
            drain_delay_seconds=config.drain_delay_seconds,
            remove_on_complete=config.remove_on_complete,
            remove_on_fail=config.remove_on_fail,
            default_attempts=config.default_attempts,
            retry_delay_ms=lambda job, backoff: int(
                hooks.retry_delay_ms(job_view(job), backoff, job.attempts_made + 1)
            ),
            on_bad_data=lambda raw, err: MalformedData(raw.decode(errors="replace"), str(err)),
        )
        self.engine = FastEngine(
            config.queue,
            config.connection,
            from_env_levers(options),
            on_completed=self._completed,
            on_failed=self._failed,
        )

    async def start(self) -> None:
        self._run = asyncio.ensure_future(self.engine.run(self._processor))

    def _processor(self, job: FastJob) -> Awaitable[Any]:
        """The runtime's `process` awaitable itself: no coroutine of our own around it
        (one frame less per job on the path to the next fetch)."""
        view = job.attachment = job_view(job)
        return self.process(view)

    async def stop(self, timeout: float) -> int:
        closing = asyncio.ensure_future(self.engine.close(drain=True))
        done, _ = await asyncio.wait({closing}, timeout=max(timeout, 0))
        handed_back = 0
        if not done:
            handed_back = self.engine.active_jobs
            await asyncio.wait({asyncio.ensure_future(self.engine.close(drain=False))}, timeout=10)
            await asyncio.wait({closing}, timeout=10)
        if self._events:
            await asyncio.wait(self._events, timeout=10)
        if self._run is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._run, 5)
        return handed_back

    @property
    def active(self) -> int:
        return self.engine.active_jobs

    @property
    def alive(self) -> bool:
        return self._run is not None and not self._run.done()

    @property
    def last_progress(self) -> float:
        return self.engine.last_progress

    def active_locks(self) -> list[tuple[str, str]]:
        return self.engine.active_locks()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    def _completed(self, job: FastJob, result: Any) -> None:
        """The view `process` got, now counting this attempt (built once per job)."""
        view = job.attachment
        if isinstance(view, JobView):
            view.attempts_made = job.attempts_made + 1
        else:
            view = job_view(job, finished=True)
        self.hooks.on_completed(view, result)

    def _failed(self, job: FastJob, err: BaseException, final: bool) -> None:
        if isinstance(err, BadJobData):  # the runtime counts it as a validation failure
            err = InvalidJob(str(err))
        self._spawn(self.hooks.on_failed(job_view(job, finished=True), err, final))
