"""What the worker logs about finished jobs, and what it sums up instead.

Every failure, retry, dead-lettering and timeout gets its own line with the
job id (workers/runtime.py). A completed job gets its own line only when it is
worth reading: at DEBUG level (the queue's `logLevel: debug` in the spec, one
line per job as before), or when it ran longer than `slow_job_seconds`. Otherwise
completions are summed per job name into one `jobs completed` line per
`job_log_interval_seconds`. Writing one JSON line per completed job was a
third to a half of the process's CPU on no-op jobs (docs/throughput.md); the
metrics count every outcome either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any


class CompletionLog:
    """Per-job lines for slow jobs (or at DEBUG), one summary line per interval for the rest."""

    def __init__(
        self, log: logging.Logger, queue: str, interval_seconds: float, slow_seconds: float
    ) -> None:
        self.log = log
        self.queue = queue
        self.interval_seconds = interval_seconds
        self.slow_seconds = slow_seconds
        self._counts: dict[str, int] = {}
        self._since = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def completed(self, name: str, seconds: float, fields: Callable[[], dict[str, Any]]) -> None:
        """Count one completion; `fields()` builds its own line when one is written."""
        self._counts[name] = self._counts.get(name, 0) + 1
        if seconds >= self.slow_seconds:
            self.log.warning("job completed slowly", extra=fields())
        elif self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("job completed", extra=fields())

    def flush(self) -> None:
        """Write the summary of the completions since the last one (nothing if none)."""
        now = time.monotonic()
        counts, self._counts = self._counts, {}
        seconds, self._since = now - self._since, now
        if counts:
            self.log.info(
                "jobs completed",
                extra={
                    "queue": self.queue,
                    "completed": sum(counts.values()),
                    "byJobName": counts,
                    "seconds": round(seconds, 3),
                },
            )

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._every_interval())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush()

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            self.flush()
