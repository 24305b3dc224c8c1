"""Keep job locks alive and name the handler when the event loop is blocked.

An `async def` handler that blocks the loop (CPU work, `time.sleep`) used to
stop every timer on it, lock renewal included: the job's lock expired, another
worker took the job as stalled and it ran twice (drill:
tests/drills/test_it_should_run_a_loop_blocking_job_once.py). This
thread, with its own synchronous Redis connection, renews the locks of every
active job with bullmq's own `extendLocks` script (the same call the engines
make on the loop; script from the installed package, workers/bullmq_wire.py),
so a blocked loop no longer loses a lock.

It also watches the loop: a task on the loop stamps a heartbeat; when the
heartbeat is older than `report_after_seconds` the thread looks at the loop
thread's stack for the handler running there, and once the loop is back it
logs one line naming that handler and how long the loop was blocked, and
observes `bullmq_worker_event_loop_blocked_seconds`. Liveness needs nothing
more: /healthz is served by the same loop, so a loop blocked longer than the
probe's timeout times failureThreshold fails the probe (the chart's
livenessProbe, helm/bullmq-platform/templates/_runtime.tpl).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

import msgpack
import redis
from redis.exceptions import RedisClusterException

from platform_spec.keys import QueueKeys
from workers.bullmq_wire import SCRIPT_FILES, SCRIPTS_DIR
from workers.connection import connect_sync
from workers.logs import get_logger

log = get_logger("loop_watch")
# How often the loop stamps its heartbeat and the thread looks at it.
BEAT_SECONDS = 0.1

# What reaching Redis from this thread can raise: a cluster client connects when it is
# built and says it cannot with RedisClusterException, which is not a RedisError. None
# of them may end the thread (renewal would stop for the rest of the process).
CONNECT_ERRORS = (redis.RedisError, RedisClusterException, OSError)

ActiveLocks = Callable[[], list[tuple[str, str]]]
Observe = Callable[[str, float], None]


class LoopWatch:
    """A daemon thread: lock renewal off the loop, and blocked-loop reports."""

    def __init__(
        self,
        *,
        connection: dict[str, Any],
        prefix: str,
        queue: str,
        lock_duration_ms: int,
        active_locks: ActiveLocks,
        handlers: dict[CodeType, str],
        observe: Observe,
        report_after_seconds: float,
        report_blocks: bool = True,
    ) -> None:
        self._connection = connection
        keys = QueueKeys(prefix, queue)
        self._stalled_key = keys.stalled
        self._base = keys.job_prefix
        self._lock_ms = lock_duration_ms
        self._renew_seconds = lock_duration_ms / 2000
        self._active_locks = active_locks
        self._handlers = handlers
        self._observe = observe
        self._report_after = report_after_seconds
        # False: renew locks only (the other partitions of a partitioned queue's worker).
        self._report_blocks = report_blocks
        self._queue = queue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat_task: asyncio.Task[None] | None = None
        self._loop_thread_id = 0
        self._client: redis.Redis | None = None
        self._extend_locks: Any = None
        self.beat = time.monotonic()

    async def start(self) -> None:
        """Start the heartbeat on the running loop and the watching thread."""
        self._loop_thread_id = threading.get_ident()
        self.beat = time.monotonic()
        self._beat_task = asyncio.create_task(self._heartbeat())
        self._thread = threading.Thread(
            target=self._run, name=f"loop-watch-{self._queue}", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._beat_task is not None:
            self._beat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat_task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    async def _heartbeat(self) -> None:
        while True:
            self.beat = time.monotonic()
            await asyncio.sleep(BEAT_SECONDS)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        # Every lock was taken after start(), so none needs renewing before half a lock
        # duration. The thread's Redis connection is opened once the first job is
        # active (one try; the renewal retries): not before the engine's own connection
        # is up, and not at the first renewal, where the TLS handshake ate into the
        # lock's margin (on a loaded machine a 3 s lock once expired that way).
        next_renew = time.monotonic() + self._renew_seconds
        blocked_by = ""
        blocked_since: float | None = None  # the last heartbeat before the block
        opened = False
        try:
            while not self._stop.wait(BEAT_SECONDS):
                now = time.monotonic()
                if not opened and self._active_locks():
                    opened = True
                    self._open()
                if now >= next_renew:
                    next_renew = now + self._renew_seconds
                    self._renew()
                beat = self.beat
                if now - beat > self._report_after:
                    if blocked_since is None:
                        blocked_since, blocked_by = beat, self._blocking_handler()
                elif blocked_since is not None:
                    self._report(blocked_by, beat - blocked_since)
                    blocked_since = None
        finally:
            if self._client is not None:
                self._client.close()

    def _script(self) -> Any:
        """bullmq's extendLocks on this thread's own connection, made at first use
        (a worker that never runs a job never opens it)."""
        if self._client is None:
            timeout = max(self._renew_seconds, 1.0)
            self._client = connect_sync(self._connection, socket_timeout=timeout)
            path = SCRIPTS_DIR / SCRIPT_FILES["extendLocks"]
            self._extend_locks = self._client.register_script(path.read_text())
        return self._extend_locks

    def _open(self) -> None:
        """Connect ahead of the first renewal (a failure here is retried by the renewal)."""
        try:
            self._script()
            if self._client is not None:
                self._client.ping()
        except CONNECT_ERRORS as err:
            log.warning(
                "lock renewal connection failed", extra={"queue": self._queue, "error": str(err)}
            )

    def _renew(self) -> None:
        locks = self._active_locks()
        if not locks:
            return
        ids = [job_id for job_id, _ in locks]
        tokens = [token for _, token in locks]
        try:
            failed = self._script()(
                keys=[self._stalled_key],
                args=[
                    self._base,
                    msgpack.packb(tokens, use_bin_type=True),
                    msgpack.packb(ids, use_bin_type=True),
                    self._lock_ms,
                ],
            )
        except CONNECT_ERRORS as err:
            log.warning("lock renewal failed", extra={"queue": self._queue, "error": str(err)})
            return
        for job_id in failed or []:
            log.warning(
                "could not renew a job's lock",
                extra={"queue": self._queue, "jobId": job_id.decode(errors="replace")},
            )

    def _blocking_handler(self) -> str:
        """The job name whose handler is on the loop thread's stack, else the function."""
        frame: FrameType | None = sys._current_frames().get(self._loop_thread_id)
        innermost = frame.f_code.co_name if frame is not None else "unknown"
        while frame is not None:
            name = self._handlers.get(frame.f_code)
            if name is not None:
                return name
            frame = frame.f_back
        return f"unknown ({innermost})"

    def _report(self, handler: str, seconds: float) -> None:
        if not self._report_blocks:
            return
        self._observe(handler, seconds)
        log.warning(
            "event loop blocked",
            extra={"queue": self._queue, "handler": handler, "seconds": round(seconds, 3)},
        )
