"""The event loop a worker process runs on: its queue's `eventLoop`, uvloop by default.

asyncio's TLS is pure Python (asyncio/sslproto.py copies every record through a
memory BIO), and its selector loop runs per callback in Python too. A profile of
`python -m workers` at concurrency 1 put about a third of the busy time there
(docs/throughput.md, "Fourth round"). uvloop (libuv, its TLS layer in Cython) does
the same work in C. `eventLoop: asyncio` in a queue of the spec (or
`BULLMQ_PLATFORM_EVENT_LOOP=asyncio` on one pod) goes back to the standard loop, e.g.
to rule the loop out while chasing a bug (`event_loop_of` below picks it).
uvloop: https://uvloop.readthedocs.io/ (asyncio.Runner's loop_factory: Python 3.11+).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvloop

from platform_spec.model import PlatformSpec
from platform_spec.sections.common import DEFAULT_EVENT_LOOP, EventLoop

T = TypeVar("T")

LOOP_FACTORIES: dict[EventLoop, Callable[[], asyncio.AbstractEventLoop] | None] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": None,  # asyncio.Runner's default: a new standard event loop
}


def event_loop_of(override: EventLoop | None, spec: PlatformSpec | None, queue: str) -> EventLoop:
    """The loop the worker of `queue` runs on: `override` (BULLMQ_PLATFORM_EVENT_LOOP) when
    set, else the queue's `eventLoop`, else the default (also for a queue the spec lacks:
    the runtime then refuses to start, naming it)."""
    if override is not None:
        return override
    if spec is None:
        return DEFAULT_EVENT_LOOP
    try:
        return spec.queue(queue).event_loop
    except KeyError:
        return DEFAULT_EVENT_LOOP


def run(main: Coroutine[Any, Any, T], loop: EventLoop) -> T:
    """asyncio.run(main) on the chosen loop."""
    with asyncio.Runner(loop_factory=LOOP_FACTORIES[loop]) as runner:
        return runner.run(main)
