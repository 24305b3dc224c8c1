"""Job timeouts with one timer for every running job, instead of one timer per job.

`asyncio.timeout()` schedules a TimerHandle per job and cancels it when the
job ends (a heap push, a cancel, a heap clean-up, two coroutine calls): on
short jobs that was the runtime's largest cost after logging and metrics
(docs/throughput.md). Here a job enters a `Deadline` (a plain `with`, no
coroutine) that only records its task and deadline; one watcher task wakes
every `resolution` seconds and cancels the tasks past their deadline, the way
asyncio.timeout does it (Task.cancel, then Task.uncancel when the scope exits,
so a cancellation from elsewhere still propagates). A job therefore times out
between `seconds` and `seconds + resolution` after it started.
Semantics of asyncio.timeout: https://docs.python.org/3/library/asyncio-task.html#timeouts
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType

# How often the watcher looks for jobs past their deadline (seconds).
RESOLUTION_SECONDS = 0.1


class Deadline:
    """One running job's time limit; `expired` once the watcher cancelled it."""

    __slots__ = ("_cancelling", "_owner", "_task", "deadline", "expired")

    def __init__(self, owner: JobDeadlines, seconds: float) -> None:
        self._owner = owner
        self.deadline = time.monotonic() + seconds
        self.expired = False

    def __enter__(self) -> Deadline:
        # With the loop given, current_task skips get_running_loop (a getpid() call). None
        # known yet, or another loop running now (that loop has no current task): looked
        # up the usual way.
        loop = self._owner.loop
        task = asyncio.current_task(loop) if loop is not None else None
        if task is None:
            task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a job deadline needs a running task")
        self._task = task
        self._cancelling = task.cancelling()
        self._owner._enter(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner._running.pop(id(self), None)
        # As asyncio.timeout's __aexit__: take back our cancel request whatever happened,
        # and turn the CancelledError into TimeoutError only when nobody else cancelled.
        ours = self.expired and self._task.uncancel() <= self._cancelling
        if ours and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc

    def expire(self) -> None:
        """Cancel the job's task (the watcher calls this once the deadline has passed)."""
        if not self.expired:
            self.expired = True
            self._task.cancel()


class JobDeadlines:
    """The deadlines of one worker's running jobs and the one task that enforces them."""

    def __init__(self, resolution: float = RESOLUTION_SECONDS) -> None:
        self.resolution = resolution
        self._running: dict[int, Deadline] = {}
        self._watcher: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the watcher's, once started

    def limit(self, seconds: float) -> Deadline:
        """`with deadlines.limit(30): await job()` raises TimeoutError past 30 s."""
        return Deadline(self, seconds)

    def _enter(self, deadline: Deadline) -> None:
        self._running[id(deadline)] = deadline
        if self._watcher is None:
            self.loop = asyncio.get_running_loop()
            self._watcher = self.loop.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.resolution)
            now = time.monotonic()
            for deadline in [d for d in self._running.values() if d.deadline <= now]:
                deadline.expire()

    async def close(self) -> None:
        """Stop the watcher (jobs still running keep no limit afterwards)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
            self.loop = None
