"""The job in its handler's hands: Node BullMQ's `Job` API, in snake_case, on both engines.

A handler reaches it as `ctx.job` (workers/registry.py). Reading attributes
costs nothing; every method is one Redis call made only when the handler asks
(BullMQ's own Lua scripts through the runtime's `bullmq.Queue` of this queue,
so both engines write what Node reads). docs/workers.md has an example per
method and the table of Node names.

Control flow is by exception, as in Node: `move_to_delayed` and `rate_limit`
raise `Deferred` (the job goes back without spending an attempt), and
`move_to_waiting_children` raises `JobMoved` when the job now waits for its
children; the engines recognise both (workers/engine.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from platform_spec.job_options import flow_child_options
from platform_spec.keys import QueueKeys
from workers.engine import JobView
from workers.errors import Deferred, JobMoved

# Node's RateLimitError / Worker.rateLimit: the limiter key holds a count above any max.
RATE_LIMITED_COUNT = 2**53 - 1


@dataclass(frozen=True)
class JobServices:
    """What every Job of one worker shares (built once per runtime, not per job)."""

    keys: QueueKeys
    backend: Any  # bullmq's QueueBackend of this queue (bullmq.Queue(...).backend)
    redis: Any  # decoded redis.asyncio client
    enqueue: Callable[..., Awaitable[str]]


def _parse(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


class Job:
    """One attempt of one job. Attributes mirror Node's `Job` (snake_case), read from
    the engine's JobView when asked (creating a Job copies nothing):

    - `id`, `name`, `queue_name`; `data` (the raw data as sent) and `payload`
      (the handler's validated pydantic model);
    - `opts` (the job's options as stored), `priority`, `timestamp` (ms, when
      added), `processed_on` (ms, this attempt's start), `attempts_made` (tries
      finished before this one), `parent` (`{"id", "queue"}` or None), `progress`;
    - `aborted` / `signal`: set when the queue's job timeout cancels the attempt
      (a `blocking` handler in a thread checks it and returns early).
    """

    __slots__ = ("_abort", "_aborted", "_services", "_view", "discarded", "payload", "progress")

    def __init__(self, services: JobServices, view: JobView, payload: Any) -> None:
        self._services = services
        self._view = view  # what the engine decoded; the attributes below read it
        self.payload = payload
        self.progress: Any = 0
        self.discarded = False
        self._aborted = False
        self._abort: threading.Event | None = None

    def __repr__(self) -> str:  # never the data: it may hold secrets
        return f"Job({self.queue_name}/{self.id} {self.name!r} attempt {self.attempts_made + 1})"

    @property
    def id(self) -> str:
        return self._view.id

    @property
    def name(self) -> str:
        return self._view.name

    @property
    def queue_name(self) -> str:
        return self._services.keys.queue

    @property
    def data(self) -> Any:
        return self._view.data

    @property
    def opts(self) -> dict[str, Any]:
        return self._view.opts

    @property
    def attempts_made(self) -> int:
        return self._view.attempts_made

    @property
    def timestamp(self) -> int:
        return self._view.timestamp_ms

    @property
    def processed_on(self) -> int:
        return self._view.processed_on

    @property
    def parent(self) -> dict[str, str] | None:
        return self._view.parent

    @property
    def token(self) -> str:
        return self._view.token

    @property
    def priority(self) -> int:
        return int(self.opts.get("priority") or 0)

    @property
    def qualified_queue(self) -> str:
        """`prefix:queue`, as a child's `parent.queue` names its parent's queue."""
        return self._services.keys.job_prefix[:-1]

    # ------------------------------------------------------------ reporting

    async def update_progress(self, progress: int | float | dict[str, Any]) -> None:
        """Node `job.updateProgress`: stored on the job, a `progress` event for QueueEvents."""
        await self._services.backend.updateProgress(self.id, progress)
        self.progress = progress

    async def log(self, line: str) -> int:
        """Node `job.log`: append a line to the job's log (Node `getJobLogs` reads it).
        Returns the number of lines; `keepLogs` in the job's options trims old ones."""
        keep = int(self.opts.get("keepLogs") or 0)
        return int(await self._services.backend.addLog(self.id, line, keep))

    async def update_data(self, data: Any) -> None:
        """Node `job.updateData`: replace the stored data (seen by the next attempt)."""
        await self._services.backend.updateData(self.id, data)
        self._view.data = data

    # ------------------------------------------------------------ control

    def discard(self) -> None:
        """Node `job.discard`: if this attempt fails, do not retry it."""
        self.discarded = True

    def move_to_delayed(self, timestamp_ms: int) -> NoReturn:
        """Node `job.moveToDelayed(ts, token)` + `throw new DelayedError()`: run again at
        `timestamp_ms` (epoch ms) without spending an attempt. Raises; never returns."""
        delay = max(int(timestamp_ms) - int(time.time() * 1000), 0)
        raise Deferred(delay, f"delayed by its handler for {delay} ms")

    async def rate_limit(self, delay_ms: int) -> NoReturn:
        """Node `worker.rateLimit(ms)` + `throw Worker.RateLimitError()`: the queue's
        workers stop fetching for `delay_ms` (when the queue has a `rateLimit` in the
        spec, as Node needs a limiter), and this job comes back after it, no attempt
        spent. Raises; never returns."""
        await self._services.redis.set(
            self._services.keys.limiter, RATE_LIMITED_COUNT, px=max(int(delay_ms), 1)
        )
        raise Deferred(int(delay_ms), f"rate limited by its handler for {delay_ms} ms")

    @property
    def aborted(self) -> bool:
        return self._aborted

    @property
    def signal(self) -> threading.Event:
        """Set when the job timeout cancels this attempt (created on first use)."""
        if self._abort is None:
            self._abort = threading.Event()
            if self._aborted:
                self._abort.set()
        return self._abort

    def abort(self) -> None:
        """Called by the runtime when the attempt is cancelled (timeout)."""
        self._aborted = True
        if self._abort is not None:
            self._abort.set()

    # ------------------------------------------------------------ flows

    async def add_child(
        self,
        queue: str,
        name: str,
        data: Any,
        *,
        job_id: str | None = None,
        on_failure: str | None = None,
    ) -> str:
        """Add a child of this job on `queue` (a queue of the spec), with that queue's
        options; `on_failure` = None (this job keeps waiting), `fail` or `ignore`
        (platform_spec.job_options.child_failure_options). Then
        `await job.move_to_waiting_children()` to wait for it."""
        opts = flow_child_options(self.id, self.qualified_queue, on_failure)
        return await self._services.enqueue(queue, name, data, job_id=job_id, extra_opts=opts)

    async def move_to_waiting_children(self) -> None:
        """Node `job.moveToWaitingChildren(token)` + `throw new WaitingChildrenError()`.

        Returns at once when no child is pending (the handler goes on, e.g. to read
        `children_values()`); otherwise the job waits in `waiting-children`, this
        attempt ends (raises `JobMoved`), and the handler runs again, without an
        attempt spent, once the last child has finished.
        """
        if await self._services.backend.moveToWaitingChildren(self.id, self.token, {}):
            raise JobMoved(f"job {self.id} waits for its children")

    async def children_values(self) -> dict[str, Any]:
        """Node `job.getChildrenValues()`: child key (`prefix:queue:id`) -> return value."""
        raw = await self._services.backend.getProcessedChildrenValues(self.id)
        return {str(k): _parse(v) for k, v in (raw or {}).items()}

    async def dependencies(self) -> dict[str, Any]:
        """Node `job.getDependencies()`: `processed` (child key -> value), `unprocessed`
        (pending child keys), `ignored` (child key -> failure reason, children with
        ignoreDependencyOnFailure) and `failed` (child keys that failed)."""
        keys, redis = self._services.keys, self._services.redis
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job_children(self.id, "processed"))
            pipe.smembers(keys.job_children(self.id, "dependencies"))
            pipe.hgetall(keys.job_children(self.id, "failed"))
            pipe.zrange(keys.job_children(self.id, "unsuccessful"), 0, -1)
            processed, unprocessed, ignored, failed = await pipe.execute()
        return {
            "processed": {k: _parse(v) for k, v in processed.items()},
            "unprocessed": sorted(unprocessed),
            "ignored": dict(ignored),
            "failed": list(failed),
        }
