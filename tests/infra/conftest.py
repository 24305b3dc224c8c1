"""Fixtures of the Pulumi program tests; the mock harness lives in pulumi_harness.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(params=["dev", "staging", "prod"])
def stack_name(request: pytest.FixtureRequest) -> str:
    """Each checked-in stack in turn."""
    return str(request.param)


_LOOP: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(autouse=True)
def event_loop_for_pulumi() -> Iterator[None]:
    """One event loop for every Pulumi test, never closed while the session runs.

    Pulumi's runtime uses the thread's current loop (and its executor threads
    keep loops of their own). Another test's `asyncio.run` leaves no current
    loop, and a loop created per test and dropped is an unclosed-loop warning:
    so the same loop is put back before each test.
    """
    if not _LOOP:
        _LOOP.append(asyncio.new_event_loop())
    asyncio.set_event_loop(_LOOP[0])
    yield
