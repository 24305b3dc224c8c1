"""Write dead letters in batches from one task, so a failure storm cannot outrun them.

A job's final failure used to await its own DLQ add in a task of its own: in a
storm (issue 25, item 3b: 100,000 jobs failing at once) thousands of such tasks
queued on one connection and the DLQ fell minutes behind the failures (about
50 entries/s against 800 failures/s measured), so the entries waited in the
worker's memory and those still waiting at shutdown were lost. Here `put` only
queues the entry; one task writes up to BATCH entries per pipelined `addBulk`
and trims the DLQ to its cap once per batch, and `stop` writes what is left
before the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from workers.dlq import DeadLetterQueue

log = logging.getLogger("workers.dlq")
BATCH = 500
RETRY_SECONDS = 1.0


class DeadLetterWriter:
    """Queue of DLQ entries and the one task that writes them."""

    def __init__(self, dlq: DeadLetterQueue, written: Callable[[str], None]) -> None:
        self.dlq = dlq
        self.written = written  # called with each written entry's job name (metrics)
        self._pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._writing = False  # a batch is off the queue and not yet written

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def put(self, **letter: Any) -> None:
        """Queue one entry (the keyword arguments of DeadLetterQueue.letter)."""
        self._pending.put_nowait(self.dlq.letter(**letter))

    @property
    def backlog(self) -> int:
        return self._pending.qsize()

    async def _write_batch(self) -> None:
        batch = [await self._pending.get()]
        self._writing = True
        while len(batch) < BATCH and not self._pending.empty():
            batch.append(self._pending.get_nowait())
        try:
            await self.dlq.add_many(batch)
        except Exception as exc:  # the jobs stay in `failed`; put them back and retry
            log.error("dead-lettering failed", extra={"entries": len(batch), "error": repr(exc)})
            for letter in batch:
                self._pending.put_nowait(letter)
            await asyncio.sleep(RETRY_SECONDS)
            return
        finally:
            self._writing = False
        for letter in batch:
            self.written(str(letter["name"]))

    async def _run(self) -> None:
        while True:
            await self._write_batch()

    async def stop(self, timeout: float) -> int:
        """Write what is queued (up to `timeout` seconds), then stop; entries left unwritten."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._writing or not self._pending.empty():
                    await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        left = self._pending.qsize()
        if left:
            log.error("dead letters not written at shutdown", extra={"entries": left})
        return left
