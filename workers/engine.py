"""The narrow interface between the runtime and the fetch/finish loop.

An engine fetches jobs of one queue, calls the runtime's `process(job)` for
each one (at most `concurrency` at a time), keeps their locks renewed, and
finishes them: completed with the return value, retried with the backoff
`hooks.retry_delay_ms` gives, or failed. It reports the outcome through
`hooks`. It knows nothing of handlers, payloads, the DLQ or metrics.

`process` may raise:
- `workers.errors.Deferred`: put the job back after a delay, no attempt spent;
- `workers.errors.JobMoved`: the handler moved the job itself (waiting-children):
  finish nothing;
- `bullmq.UnrecoverableError` (and InvalidJob): fail now, no retries;
- anything else: a failed attempt (retried while attempts remain).

The implementations import this interface; workers/engine_factory.py picks
one by name (so this module imports none of them).
Both pass the same worker test suite (tests/workers/ runs on each).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)  # built per job
class JobView:
    """What the runtime sees of a job, engine-neutral."""

    id: str
    name: str
    data: Any
    attempts_made: int  # attempts finished before this one
    max_attempts: int
    timestamp_ms: int
    stacktrace: list[str] = field(default_factory=list)
    # For the handler's Job (workers/job.py): options as stored, lock token, start of
    # this attempt (ms), parent {"id", "queue"} of a flow's child.
    opts: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    processed_on: int = 0
    parent: dict[str, str] | None = None

    @property
    def delay_ms(self) -> int:
        """opts.delay: the job was due at timestamp_ms + delay_ms (the wait-time histogram)."""
        return int(self.opts.get("delay") or 0)


@dataclass(frozen=True)
class EngineConfig:
    queue: str
    prefix: str
    connection: dict[str, Any] = field(repr=False)  # holds the password: never in repr
    concurrency: int
    default_attempts: int
    lock_duration_ms: int
    stalled_interval_ms: int
    max_stalled_count: int
    drain_delay_seconds: float
    remove_on_complete: Any
    remove_on_fail: Any


class EngineHooks(Protocol):
    def retry_delay_ms(self, job: JobView, opts_backoff: Any, attempts_made: int) -> int:
        """Delay before the next try; `attempts_made` counts the try that just failed."""

    def on_completed(self, job: JobView, result: Any) -> None:
        """Count and log a completion: synchronous, so a job costs no task of its own."""

    async def on_failed(self, job: JobView, error: BaseException, final: bool) -> None: ...


Process = Callable[[JobView], Awaitable[Any]]


class Engine(Protocol):
    async def start(self) -> None:
        """Start fetching (returns at once; the loop runs in the background)."""

    async def stop(self, timeout: float) -> int:
        """Stop fetching, let active jobs finish for up to `timeout` seconds, then
        hand the rest back (their locks lapse and another worker takes them).
        Returns the number of jobs handed back. Closes the connections."""

    @property
    def active(self) -> int:
        """Jobs in progress."""

    @property
    def alive(self) -> bool:
        """False once the fetch loop has died."""

    @property
    def last_progress(self) -> float:
        """time.monotonic() of the loop's last fetch attempt that returned."""

    def active_locks(self) -> list[tuple[str, str]]:
        """(job id, lock token) of the jobs in progress; safe to call from another
        thread (workers/loop_watch.py renews these locks off the event loop)."""
