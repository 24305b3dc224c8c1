"""The jobs the bench sends to the real `python -m workers` process (spec `handler: bench.handler`).

Like a handler people write: a small pydantic payload, validated by the
runtime before the handler runs. `noop` returns its input; `io` awaits 1 ms
first (an awaited call to some service). The return value is what
bench/verify.py checks for every kept job.
"""

from __future__ import annotations

import asyncio

from workers.registry import JobContext, Payload, Registry

registry = Registry()


class BenchJob(Payload):
    """`{"i": <job number>}`, as bench/pyproducer.py enqueues it."""

    i: int


@registry.job("noop", BenchJob)
async def noop(payload: BenchJob, ctx: JobContext) -> int:
    return payload.i


@registry.job("io", BenchJob)
async def io(payload: BenchJob, ctx: JobContext) -> int:
    await asyncio.sleep(0.001)
    return payload.i
