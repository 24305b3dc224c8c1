"""Handlers of the dashboard tests' queue: a report that succeeds, always fails, or
fails on its first attempt only (so a retry from the dashboard completes it)."""

from __future__ import annotations

from typing import Any

from workers.registry import JobContext, Payload, Registry

registry = Registry()
ERROR = "report backend unavailable"


class Report(Payload):
    fail: bool = False  # always fail
    fail_first: bool = False  # fail on the first attempt only


@registry.job("report", Report)
async def report(payload: Report, ctx: JobContext) -> dict[str, Any]:
    if payload.fail or (payload.fail_first and ctx.attempt == 1):
        raise RuntimeError(f"{ERROR} (attempt {ctx.attempt})")
    return {"attempt": ctx.attempt}
