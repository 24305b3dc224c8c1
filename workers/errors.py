"""Errors a job can end with, as the runtime and the engines understand them."""

from __future__ import annotations

from bullmq import UnrecoverableError


class InvalidJob(UnrecoverableError):  # type: ignore[misc]
    """The job can never succeed as sent (bad payload, unknown name, too big).

    Unrecoverable: no retries; it goes straight to the dead-letter queue with
    this message.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid job: {reason}")
        self.reason = reason


class JobTimeout(Exception):
    """The handler ran longer than the queue's jobTimeoutSeconds and was cancelled."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"job timed out after {seconds:g}s (jobTimeoutSeconds)")
        self.seconds = seconds


class Deferred(Exception):
    """Put the job back for `delay_ms` without spending an attempt (tenant limits)."""

    def __init__(self, delay_ms: int, reason: str) -> None:
        super().__init__(reason)
        self.delay_ms = delay_ms


class JobMoved(Exception):
    """The handler moved its own job out of `active` (to waiting-children): the engine
    neither completes nor fails it (Node's WaitingChildrenError)."""


class Discarded(UnrecoverableError):  # type: ignore[misc]
    """The handler called `job.discard()` and then failed: no more retries (Node's
    `job.discard()`); the message is the handler's own error."""


__all__ = [
    "Deferred",
    "Discarded",
    "InvalidJob",
    "JobMoved",
    "JobTimeout",
    "UnrecoverableError",
]


class StartupError(RuntimeError):
    """The worker cannot start (Redis refused it or stayed unreachable); the reason is
    the message, which never contains a secret."""
