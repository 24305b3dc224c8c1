"""The fast fetch/finish loop: BullMQ's own Lua scripts, pipelined on one connection.

The stock Python `bullmq.Worker` sends one command at a time on a locked
connection and finishes a job without fetching the next, so concurrency 50
runs no faster than 1 (see docs/throughput.md). This engine keeps every
script of the installed `bullmq` package (read from the package at run time,
never copied) and changes only how they are called:

- one long-lived loop per concurrency slot: fetch (moveToActive), process,
  finish *and fetch the next job* in one moveToFinished call;
- every slot's commands share one connection, many in flight, their writes
  batched per event-loop tick (`_fast_redis.PipelinedRedis`), hiredis parsing;
  on a Redis Cluster that connection goes to the primary that owns the queue's
  hash slot and follows MOVED / ASK itself (`_fast_cluster.SlotPipelinedRedis`);
- locks of all active jobs renewed in one `extendLocks` call per interval;
- one blocking connection waits on the queue's marker (BZPOPMIN) for every
  idle slot at once.

Guarantees kept: lock renewal, stalled-job recovery (moveStalledJobsToWait),
retries with fixed/exponential backoff and jitter (Node BullMQ's formulas),
UnrecoverableError, job timeouts, graceful drain, removeOnComplete /
removeOnFail, the events stream entries Node's QueueEvents reads (the scripts
write them), job scheduler iterations.

Interface: `FastEngine(queue, connection, options).run(processor)` and
`close(drain=True)`; the processor receives a `FastJob` and its return value
becomes the job's return value; raising fails (and maybe retries) the job.
What the scripts take and return (KEYS, job hash, backoff) is
workers/bullmq_wire.py; the runtime's Engine on top of this loop is
workers/engine_fast_adapter.py.

Memory: this module imports neither `bullmq` (about 20 MB of Python modules,
redis-py included) nor the runtime's modules. The scripts are found on disk
without importing the package, and bullmq's `UnrecoverableError` and the
runtime's `Deferred` are recognised only if their modules are already loaded
(if they are not, nothing can raise them). A process that runs only this
engine stays near 25 MB (see docs/throughput.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgpack
import orjson

from platform_spec.keys import DEFAULT_PREFIX
from workers._fast_cluster import pipelined_for_queue
from workers._fast_redis import CommandTemplate, ReplyError
from workers.bullmq_wire import (
    SCRIPT_FILES,
    SCRIPTS_DIR,
    FastJob,
    ScriptKeys,
    backoff_delay_ms,
    failure_fields,
    job_from_reply,
    keep_jobs,
    now_ms,
)
from workers.connection import bullmq_connection_arg
from workers.next_tick import add_next_tick

log = logging.getLogger(__name__)


# Pause after a Redis error before a slot tries again (Node's DELAY_TIME_1 is 100 ms).
RETRY_DELAY_SECONDS = 0.1
# Pause before a slot retries a fetch that Redis refused because it is full.
REDIS_FULL_RETRY_SECONDS = 1.0
# BZPOPMIN never blocks longer than this, so a lost connection is noticed (bullmq #1658).
MAX_BLOCK_SECONDS = 10.0
MIN_BLOCK_SECONDS = 0.001

Processor = Callable[["FastJob"], Awaitable[Any]]


class JobTimeoutError(Exception):
    """The processor ran longer than the job timeout; the job was cancelled."""


class BadJobData(Exception):
    """The job's data cannot be decoded: it fails at once, without retries."""


def is_unrecoverable(err: BaseException) -> bool:
    """Fail at once? BadJobData, or bullmq's UnrecoverableError (InvalidJob included)."""
    if isinstance(err, BadJobData):
        return True
    errors = sys.modules.get("bullmq.custom_errors")
    return errors is not None and isinstance(err, errors.UnrecoverableError)


def moved_by_handler(err: BaseException) -> bool:
    """The runtime's `JobMoved`: the handler moved the job itself; finish nothing."""
    errors = sys.modules.get("workers.errors")
    return errors is not None and isinstance(err, errors.JobMoved)


def is_redis_full(err: BaseException) -> bool:
    """Redis refused a write over maxmemory (noeviction): `OOM command not allowed ...`."""
    return str(err).startswith("OOM ")


def deferred_delay_ms(err: BaseException) -> int | None:
    """The delay of the runtime's `Deferred` (put back, no attempt spent), else None."""
    errors = sys.modules.get("workers.errors")
    if errors is not None and isinstance(err, errors.Deferred):
        return int(err.delay_ms)
    return None


@dataclass
class EngineOptions:
    """Worker options of the fast engine (names follow the platform spec, units in the name)."""

    concurrency: int = 1
    prefix: str = DEFAULT_PREFIX
    # A job's lock lives this long unless renewed; renewed every lock_renew_ms
    # (default half of it) for all active jobs in one extendLocks call.
    lock_duration_ms: int = 30_000
    lock_renew_ms: int | None = None
    # How often one worker of the queue looks for jobs whose lock expired
    # (their worker died) and moves them back to wait, or to failed after
    # max_stalled_count such recoveries.
    stalled_interval_ms: int = 30_000
    max_stalled_count: int = 1
    # How long an idle worker blocks on the queue's marker before polling again.
    drain_delay_seconds: float = 5.0
    # A job running longer is cancelled and failed with JobTimeoutError (None: no limit).
    job_timeout_seconds: float | None = None
    # Defaults for jobs that do not carry removeOnComplete / removeOnFail themselves
    # (bool, a count, or {"age": s, "count": n} as BullMQ takes them).
    remove_on_complete: Any = None
    remove_on_fail: Any = None
    metrics_max_data_points: int | None = None
    name: str | None = None
    # Attempts for jobs sent without `attempts` (e.g. by a Node producer); None: 1.
    default_attempts: int | None = None
    # Delay before a retry, given the job and its `backoff` option; None: Node
    # BullMQ's fixed/exponential formulas with jitter (backoff_delay_ms).
    retry_delay_ms: Callable[[FastJob, Any], int] | None = None
    # Called with the raw bytes and the error when a job's data is not JSON; its
    # return value becomes job.data (None: the job fails as unrecoverable).
    on_bad_data: Callable[[bytes, Exception], Any] | None = None
    # Levers, kept switchable so the bench can measure each one.
    # "auto": "adaptive" at concurrency 1 (the one command in flight leaves at once,
    # one event-loop iteration less per job), "tick" above it (measured: batching
    # wins at 10 and 50). Or any of _fast_redis.FLUSH_MODES.
    flush_mode: str = "auto"
    # Batched writes ("tick", "adaptive") leave as soon as this many commands are
    # buffered (0: at the end of the tick only). None ("auto"): a third of the
    # concurrency, so a tick's finishes leave in about three writes and Redis starts
    # on the first while the worker still runs the rest (auto_flush_chunk).
    flush_chunk: int | None = None
    fetch_next: bool = True


# Above this concurrency one write per tick is as fast or faster (auto_flush_chunk).
CHUNKED_UP_TO = 30


def auto_flush_chunk(concurrency: int) -> int:
    """Commands per write when batching: a third of the concurrency from 3 to
    CHUNKED_UP_TO, else 0 (one write per tick). Measured on a quiet machine
    (docs/throughput.md, "Fourth round"): at concurrency 10 and 20 one write per tick
    left Redis idle while the worker ran the tick and the worker idle while Redis ran
    the write (1.55x / 1.66x Node chunked, 0.99x / 1.12x per tick); at 30 both were
    even; at 50 a tick's replies arrive over several reads anyway, and per tick won.
    Per engine, i.e. per connection: a partitioned queue's engines each count their
    own share of the concurrency."""
    if concurrency < 3 or concurrency > CHUNKED_UP_TO:
        return 0
    return max(2, -(-concurrency // 3))


class FastEngine:
    """Fetch, run and finish jobs of one queue with BullMQ's scripts, pipelined."""

    _call_soon: Callable[..., Any]  # the running loop's, set by run()

    def __init__(
        self,
        queue: str,
        connection: dict[str, Any],
        options: EngineOptions | None = None,
        *,
        on_completed: Callable[[FastJob, Any], None] | None = None,
        on_failed: Callable[[FastJob, BaseException, bool], None] | None = None,
    ) -> None:
        self.queue = queue
        self.options = options or EngineOptions()
        self.on_completed = on_completed
        self.on_failed = on_failed
        self.id = uuid.uuid4().hex
        self._connection = connection
        mode = self.options.flush_mode
        if mode == "auto":
            mode = "adaptive" if self.options.concurrency <= 1 else "tick"
        chunk = self.options.flush_chunk
        if chunk is None:
            chunk = auto_flush_chunk(self.options.concurrency)
        self.keys = ScriptKeys(self.options.prefix, queue)
        # On a Redis Cluster both follow the queue's slot (workers/_fast_cluster.py).
        self._redis = pipelined_for_queue(
            connection, self.keys.base, flush_mode=mode, flush_chunk=chunk
        )
        self._blocking = pipelined_for_queue(connection, self.keys.base, flush_mode="immediate")
        self._closing = False
        self._closed = asyncio.Event()
        self._active: dict[str, str] = {}  # job id -> lock token
        self._wake: asyncio.Future[None] | None = None
        self._waiter: asyncio.Task[None] | None = None
        self._block_until = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._slots: list[asyncio.Task[None]] = []
        self._reconnect_lock = asyncio.Lock()
        self._opts_cache: dict[tuple[Any, ...], bytes] = {}
        self._templates: dict[tuple[str, bytes, bool], CommandTemplate] = {}
        self._scheduler_queue: Any = None
        self.processed = 0
        self.last_progress = time.monotonic()
        self._handing_back = False
        self.base = self.keys.base
        self._base_b = self.keys.base_b

    # ------------------------------------------------------------ life cycle

    async def _connect(self) -> None:
        name = f"{self.options.prefix}:{self.queue}:w:{self.options.name or self.id}"
        await self._redis.connect(client_name=name.replace(" ", "_"))
        for script, filename in SCRIPT_FILES.items():
            await self._redis.load_script(script, SCRIPTS_DIR / filename)
        self._templates.clear()  # they hold the scripts' shas

    async def run(self, processor: Processor) -> None:
        """Process jobs until close(); returns once every slot has stopped."""
        self.processor = processor
        self._call_soon = asyncio.get_running_loop().call_soon
        await self._connect()
        await self._blocking.connect()
        renew = self.options.lock_renew_ms or self.options.lock_duration_ms // 2
        self._tasks = [
            asyncio.create_task(self._every(renew / 1000, self._extend_locks)),
            asyncio.create_task(
                self._every(self.options.stalled_interval_ms / 1000, self._check_stalled, True)
            ),
        ]
        self._slots = [
            asyncio.create_task(self._slot(i)) for i in range(max(1, self.options.concurrency))
        ]
        try:
            await asyncio.gather(*self._slots)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._waiter is not None:
                self._waiter.cancel()
            await self._blocking.close()
            await self._redis.close()
            if self._scheduler_queue is not None:
                with contextlib.suppress(Exception):
                    await self._scheduler_queue.close()
            self._closed.set()

    async def close(self, drain: bool = True) -> None:
        """Stop fetching. drain=True: let active jobs finish; False: cancel them.

        Cancelled jobs keep their lock until it expires; the stalled-job check of
        any worker then moves them back to wait (nothing is lost).
        """
        self._closing = True
        self._wake_all()
        if self._waiter is not None:
            self._waiter.cancel()
        await self._blocking.close()
        if not drain:
            self._handing_back = True
            for slot in self._slots:
                slot.cancel()
        if self._slots:
            await self._closed.wait()

    @property
    def active_jobs(self) -> int:
        return len(self._active)

    def active_locks(self) -> list[tuple[str, str]]:
        """(job id, token) of the active jobs; a copy, safe from another thread."""
        return list(self._active.copy().items())

    # ------------------------------------------------------------ slot loop

    async def _slot(self, index: int) -> None:
        token = f"{self.id}:{index}"
        job: FastJob | None = None
        while True:
            try:
                if job is None:
                    if self._closing:
                        return
                    job = await self._fetch(token)
                    if job is None:
                        await self._wait_for_work()
                        continue
                job = await self._process(job, token)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                job = None
                if self._closing:
                    return
                if is_redis_full(err):
                    # Redis answered: the loop is alive, Redis is full (noeviction refuses
                    # the fetch, a write). Liveness must not restart us for that.
                    self.last_progress = time.monotonic()
                    if index == 0:
                        log.warning("redis is full: fetching refused, retrying: %s", err)
                    await asyncio.sleep(REDIS_FULL_RETRY_SECONDS)
                    continue
                log.warning("fast engine slot %s: %s", index, err)
                await asyncio.sleep(RETRY_DELAY_SECONDS)
                await self._reconnect()

    async def _reconnect(self) -> None:
        async with self._reconnect_lock:
            if self._redis.connected or self._closing:
                return
            with contextlib.suppress(Exception):
                await self._connect()

    def _pack_opts(self, token: str, job: FastJob | None, keep: Any) -> bytes:
        if job is None:
            key: tuple[Any, ...] = (token,)
        else:
            o = job.opts
            keep_key = orjson.dumps(keep) if isinstance(keep, dict) else keep
            key = (
                token,
                keep_key,
                o.get("attempts", 1),
                job.attempts_made,
                o.get("failParentOnFailure", False),
                o.get("continueParentOnFailure", False),
                o.get("ignoreDependencyOnFailure", False),
                o.get("removeDependencyOnFailure", False),
            )
        packed = self._opts_cache.get(key)
        if packed is None:
            opts: dict[str, Any] = {
                "token": token,
                "lockDuration": self.options.lock_duration_ms,
                "limiter": None,
            }
            if self.options.name:
                opts["name"] = self.options.name
            if job is not None:
                metrics = self.options.metrics_max_data_points
                opts.update(
                    keepJobs=keep_jobs(keep),
                    attempts=key[2],
                    attemptsMade=key[3],
                    maxMetricsSize=metrics if metrics is not None else "",
                    fpof=key[4],
                    cpof=key[5],
                    idof=key[6],
                    rdof=key[7],
                )
            packed = msgpack.packb(opts, use_bin_type=True)
            if len(self._opts_cache) > 4096:
                self._opts_cache.clear()
            self._opts_cache[key] = packed
        return packed

    async def _fetch(self, token: str) -> FastJob | None:
        reply = await self._redis.evalsha(
            "moveToActive",
            self.keys.move_to_active,
            [self._base_b, now_ms(), self._pack_opts(token, None, None)],
        )
        self.last_progress = time.monotonic()
        return self._next_from_reply(reply, token)

    def _next_from_reply(self, reply: Any, token: str) -> FastJob | None:
        if not isinstance(reply, list):
            return None
        fields, job_id = reply[0], reply[1]
        if fields and job_id:
            self._active[job_id.decode()] = token
            try:
                job = job_from_reply(fields, job_id, self.queue, token, self.options.on_bad_data)
            except Exception as err:  # never leave a fetched job pinned in `active`
                job = FastJob(
                    id=job_id.decode(),
                    name="",
                    data=None,
                    opts={},
                    attempts_made=0,
                    token=token,
                    queue_name=self.queue,
                    deferred_failure=f"unreadable job hash: {err}",
                )
            if not job.opts.get("attempts") and self.options.default_attempts:
                job.opts["attempts"] = self.options.default_attempts
            if job.repeat_job_key:
                self._spawn(self._schedule_next_iteration(job))
            return job
        if len(reply) >= 4:
            limit_until, delay_until = int(reply[2] or 0), int(reply[3] or 0)
            if limit_until > 0:
                self._block_until = now_ms() + limit_until
            elif delay_until:
                self._block_until = delay_until
        return None

    async def _process(self, job: FastJob, token: str) -> FastJob | None:
        self._active[job.id] = token
        try:
            if job.deferred_failure:
                raise BadJobData(job.deferred_failure)
            timeout = self.options.job_timeout_seconds
            if timeout:
                try:
                    async with asyncio.timeout(timeout):
                        result = await self.processor(job)
                except TimeoutError as err:
                    raise JobTimeoutError(f"job timed out after {timeout:g}s") from err
            else:
                result = await self.processor(job)
            value = orjson.dumps(result)
        except asyncio.CancelledError:
            if self._handing_back:
                # Closing without drain: put the job back now, no attempt spent.
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._move_to_delayed(job, token, 0, b"1", b""))
                self._active.pop(job.id, None)
            raise
        except Exception as err:
            if moved_by_handler(err):
                self._active.pop(job.id, None)
                return None
            delay = deferred_delay_ms(err)
            if delay is None:
                return await self._fail(job, token, err)
            try:
                await self._move_to_delayed(job, token, delay, b"1", b"")
            finally:
                self._active.pop(job.id, None)
            return None
        self.processed += 1
        try:
            reply = await self._finish(job, token, "completed", b"returnvalue", value)
        finally:
            self._active.pop(job.id, None)
        if self.on_completed is not None:
            # Counted once Redis acknowledged the finish, but off the path to the next job:
            # at concurrency 1 the slot goes on with the job that came back in the reply
            # and sends its finish, and the loop runs this while Redis runs that script
            # (every job waits for the one before it there, docs/throughput.md).
            self._call_soon(self._completed, self.on_completed, job, result)
        return self._next_from_reply(reply, token)

    @staticmethod
    def _completed(hook: Callable[[FastJob, Any], None], job: FastJob, result: Any) -> None:
        """Run the completion hook; a failure is logged with the job id (never the job or
        its result, which asyncio's own report of a failed callback would print)."""
        try:
            hook(job, result)
        except Exception as err:
            log.error("completion hook failed for job %s: %s", job.id, err)

    async def _finish(
        self,
        job: FastJob,
        token: str,
        target: str,
        prop: bytes,
        value: bytes,
        fields: bytes | None = None,
    ) -> Any:
        remove_default = (
            self.options.remove_on_complete
            if target == "completed"
            else self.options.remove_on_fail
        )
        remove_key = "removeOnComplete" if target == "completed" else "removeOnFail"
        keep = job.opts.get(remove_key, remove_default)
        fetch = self.options.fetch_next and not self._closing
        id_b = job.id.encode()
        values = [
            self._base_b + id_b,  # the job's key
            id_b,
            b"%d" % now_ms(),
            value,
            b"1" if fetch else b"",
            self._pack_opts(token, job, keep),
        ]
        if fields is not None:
            values.append(fields)
        packed = self._finish_template(target, prop, fields is not None).pack(values)
        sent_at = time.monotonic()
        try:  # the first try inline: a coroutine less per job (docs/throughput.md)
            reply, retried = await self._redis.evalsha_packed("moveToFinished", packed), False
        except (ConnectionError, ReplyError) as err:
            reply, retried = await self._finish_again(packed, err, sent_at)
        if isinstance(reply, int) and reply < 0:
            if retried:
                # The first call may have been applied before its reply was lost, or the
                # lock expired meanwhile: either way the job is no longer ours.
                log.info("job %s finished before a reconnect (code %s)", job.id, reply)
                return None
            raise RuntimeError(f"moveToFinished of job {job.id} refused: code {reply}")
        return reply

    def _finish_template(self, target: str, prop: bytes, with_fields: bool) -> CommandTemplate:
        """moveToFinished to `target`, packed once per connection: its slots are the job's
        key, id, the time, the value, the fetch-next flag, the options [, the failure's
        fields] (what every other argument is: bullmq_wire.ScriptKeys and the script)."""
        cache_key = (target, prop, with_fields)
        template = self._templates.get(cache_key)
        if template is None:
            keys = self.keys.move_to_finished_slots(target)
            args: list[bytes | None] = [None, None, prop, None, target.encode()]
            args += [None, self._base_b, None] + ([None] if with_fields else [])
            sha = self._redis.sha("moveToFinished")
            template = CommandTemplate([b"EVALSHA", sha, b"%d" % len(keys), *keys, *args])
            self._templates[cache_key] = template
        return template

    async def _finish_again(
        self, packed: bytes, err: Exception, sent_at: float
    ) -> tuple[Any, bool]:
        """moveToFinished sent again after `err`, the failure of the first try (sent at
        `sent_at`): after a reconnect or a NOREPLICAS refusal while the job's lock lasts,
        and after reloading the script on NOSCRIPT (twice in a row is raised); what no
        retry fixes is raised. (reply, retried).

        Why: a failover drops connections (Sentinel kills the clients of a node it
        reconfigures), and a new primary refuses writes (min-replicas-to-write) until a
        replica follows it; a finish lost either way left the job in `active` until its
        lock expired and the stalled check ran it a second time. `packed` is sent again
        as it is: a script's sha is the SHA1 of its body, the same after a reload and on
        every server.
        """
        deadline = sent_at + self.options.lock_duration_ms / 1000
        retried = reloaded = False
        while True:
            text = str(err)
            noscript = isinstance(err, ReplyError) and text.startswith("NOSCRIPT")
            if noscript:
                # Redis lost its scripts (a restart, SCRIPT FLUSH): nothing ran; reloaded
                # and still missing is not something another try fixes.
                if reloaded:
                    raise err
            elif isinstance(err, ConnectionError):  # RedisConnectionLost, refused, reset
                if self._closing or time.monotonic() >= deadline:
                    raise err
                retried = True
                await asyncio.sleep(RETRY_DELAY_SECONDS)
                await self._reconnect()
            elif text.startswith("NOREPLICAS") and time.monotonic() < deadline:
                retried = True
                await asyncio.sleep(RETRY_DELAY_SECONDS)
            else:
                raise err
            reloaded = noscript
            try:
                if noscript:  # in the try: a connection lost meanwhile is retried as above
                    await self._redis.reload_script("moveToFinished")
                return await self._redis.evalsha_packed("moveToFinished", packed), retried
            except (ConnectionError, ReplyError) as again:
                err = again

    async def _fail(self, job: FastJob, token: str, err: Exception) -> FastJob | None:
        reason = str(err) or type(err).__name__
        fields = failure_fields(job, err, reason)
        attempts = int(job.opts.get("attempts") or 1)
        final = is_unrecoverable(err) or job.attempts_made + 1 >= attempts
        delay = 0
        if not final:
            try:
                if self.options.retry_delay_ms is not None:
                    delay = self.options.retry_delay_ms(job, job.opts.get("backoff"))
                else:
                    delay = backoff_delay_ms(job.opts.get("backoff"), job.attempts_made + 1)
            except ValueError as bad:
                reason, final = str(bad), True
            if delay < 0:  # a strategy's way to say "no more retries"
                final = True
        reply: Any = None
        try:
            if repairs := job.extra.get("repairs"):
                # A counter the failing script increments must be a number first.
                pairs = [x for item in repairs.items() for x in item]
                await self._redis.execute("HSET", self.keys.job(job.id), *pairs)
            if final:
                reply = await self._finish(
                    job, token, "failed", b"failedReason", reason.encode(), fields
                )
            elif delay > 0:
                reply = await self._move_to_delayed(job, token, delay, b"0", fields)
            else:
                push = b"RPUSH" if job.opts.get("lifo") else b"LPUSH"
                reply = await self._redis.evalsha(
                    "retryJob",
                    self.keys.retry_job(job.id),
                    [self._base_b, now_ms(), push, job.id, token, fields],
                )
            if isinstance(reply, int) and reply < 0:
                raise RuntimeError(f"failing job {job.id} refused: code {reply}")
        finally:
            self._active.pop(job.id, None)
        job.failed_reason = reason
        if self.on_failed is not None:
            self.on_failed(job, err, final)
        return self._next_from_reply(reply, token) if final else None

    def _move_to_delayed(
        self, job: FastJob, token: str, delay: int, skip_attempt: bytes, fields: bytes
    ) -> Awaitable[Any]:
        return self._redis.evalsha(
            "moveToDelayed",
            self.keys.move_to_delayed(job.id),
            [self._base_b, now_ms(), job.id, token, delay, skip_attempt, fields, b"0"],
        )

    # ------------------------------------------------------------ idle: wait on the marker

    def _wake_all(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _wait_for_work(self) -> None:
        if self._closing:
            return
        wake = self._wake
        if wake is None or wake.done():
            wake = self._wake = asyncio.get_running_loop().create_future()
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.create_task(self._block_on_marker())
        await asyncio.shield(wake)

    async def _block_on_marker(self) -> None:
        """One BZPOPMIN on the marker for every idle slot; then wake them all."""
        try:
            while not self._closing:
                now = now_ms()
                if self._block_until > now:
                    timeout = min((self._block_until - now) / 1000, MAX_BLOCK_SECONDS)
                else:
                    self._block_until = 0
                    timeout = min(self.options.drain_delay_seconds, MAX_BLOCK_SECONDS)
                timeout = max(timeout, MIN_BLOCK_SECONDS)
                if not self._blocking.connected:
                    await self._blocking.connect()
                reply = await self._blocking.execute("BZPOPMIN", self.keys.marker, f"{timeout:.3f}")
                if reply:
                    score = int(float(reply[2]))
                    if score > now_ms():
                        self._block_until = score
                        continue
                self._block_until = 0
                break
        except asyncio.CancelledError:
            pass
        except Exception as err:
            if not self._closing:
                log.warning("fast engine: waiting for jobs failed: %s", err)
                await asyncio.sleep(RETRY_DELAY_SECONDS)
        finally:
            self._wake_all()

    # ------------------------------------------------------------ timers

    async def _every(
        self, seconds: float, fn: Callable[[], Awaitable[None]], now: bool = False
    ) -> None:
        if not now:
            await asyncio.sleep(seconds)
        while not self._closed.is_set():
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("fast engine %s: %s", fn.__name__, err)
            await asyncio.sleep(seconds)

    async def _extend_locks(self) -> None:
        """Renew the locks of every active job in one extendLocks call."""
        if not self._active or not self._redis.connected:
            return
        ids, tokens = list(self._active), list(self._active.values())
        failed = await self._redis.evalsha(
            "extendLocks",
            self.keys.extend_locks,
            [
                self._base_b,
                msgpack.packb(tokens, use_bin_type=True),
                msgpack.packb(ids, use_bin_type=True),
                self.options.lock_duration_ms,
            ],
        )
        for job_id in failed or []:
            log.warning("could not renew the lock of job %s", job_id.decode())

    async def _check_stalled(self) -> None:
        if not self._redis.connected:
            return
        stalled = await self._redis.evalsha(
            "moveStalledJobsToWait",
            self.keys.move_stalled_jobs_to_wait,
            [
                self.options.max_stalled_count,
                self._base_b,
                now_ms(),
                self.options.stalled_interval_ms,
            ],
        )
        for job_id in stalled or []:
            log.warning("job %s stalled: moved back to wait", job_id.decode())
        if stalled:
            self._wake_all()

    # ------------------------------------------------------------ job schedulers

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _schedule_next_iteration(self, job: FastJob) -> None:
        """Materialise the next iteration of the job scheduler that produced `job`.

        The same step Node's worker takes in nextJobFromJobData (bullmq's
        JobScheduler.upsertJobScheduler with override=False), sent again through a
        failover's refusals while the tick's lock lasts (workers/next_tick.py: the
        script is idempotent). Before, one NOREPLICAS left the chain to the
        scheduler's repair.
        """
        from bullmq import Queue

        try:
            if self._scheduler_queue is None:
                self._scheduler_queue = Queue(
                    self.queue,
                    {
                        "connection": bullmq_connection_arg(self._connection),
                        "prefix": self.options.prefix,
                    },
                )
            await add_next_tick(
                self._scheduler_queue,
                str(job.repeat_job_key),
                job.opts.get("repeat"),
                job.name,
                job.data,
                job.opts,
                job.id,
                retry_seconds=self.options.lock_duration_ms / 1000,
            )
        except Exception as err:
            log.warning("next iteration of scheduler %s not added: %s", job.repeat_job_key, err)


def from_env_levers(options: EngineOptions) -> EngineOptions:
    """Apply lever switches from the environment (used by the bench's lever runs)."""
    if mode := os.environ.get("BULLMQ_PLATFORM_FAST_FLUSH"):
        options.flush_mode = mode
    if chunk := os.environ.get("BULLMQ_PLATFORM_FAST_FLUSH_CHUNK"):
        options.flush_chunk = int(chunk)
    if os.environ.get("BULLMQ_PLATFORM_FAST_NO_FETCH_NEXT"):
        options.fetch_next = False
    return options
