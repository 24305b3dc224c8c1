"""Spec -> BullMQ options (camelCase lives here and in engine_stock only)."""

from __future__ import annotations

import random
from typing import Any

from platform_spec.model import Backoff, Queue, Retention


def retention(value: Retention) -> dict[str, int] | bool:
    """BullMQ KeepJobs: `{age, count}`; nothing set keeps every job."""
    keep: dict[str, int] = {}
    if value.age_seconds is not None:
        keep["age"] = value.age_seconds
    if value.count is not None:
        keep["count"] = value.count
    return keep or False


def backoff(value: Backoff) -> dict[str, Any]:
    """BullMQ backoff options; `jitter` is Node BullMQ's own field (0..1)."""
    out: dict[str, Any] = {"type": value.type, "delay": value.delay_ms}
    if value.jitter:
        out["jitter"] = value.jitter
    return out


def job_options(
    queue: Queue,
    *,
    priority: int | None = None,
    delay_ms: int = 0,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Options for `Queue.add` of a job on `queue`, from the spec."""
    opts: dict[str, Any] = {
        "attempts": queue.attempts,
        "backoff": backoff(queue.backoff),
        "removeOnComplete": retention(queue.remove_on_complete),
        "removeOnFail": retention(queue.remove_on_fail),
    }
    prio = queue.default_priority if priority is None else priority
    if prio:
        opts["priority"] = prio
    if delay_ms:
        opts["delay"] = delay_ms
    if job_id:
        opts["jobId"] = job_id
    return opts


def retry_delay_ms(
    opts_backoff: Any, spec_backoff: Backoff, attempts_made: int, rng: random.Random | None = None
) -> int:
    """Delay before the next try after `attempts_made` tries, with jitter.

    The job's own backoff (set by its producer, Node or Python) wins; the spec's
    applies to jobs sent without one. Jitter takes a random fraction off the
    delay, as Node BullMQ does: delay * (1 - jitter) .. delay.
    """
    kind, delay, jitter = spec_backoff.type, spec_backoff.delay_ms, spec_backoff.jitter
    if isinstance(opts_backoff, int | float):
        kind, delay, jitter = "fixed", int(opts_backoff), 0.0
    elif isinstance(opts_backoff, dict) and opts_backoff.get("type") in ("fixed", "exponential"):
        kind = opts_backoff["type"]
        delay = int(opts_backoff.get("delay") or 0)
        jitter = float(opts_backoff.get("jitter") or 0.0)
    base = delay if kind == "fixed" else round(2 ** max(attempts_made - 1, 0) * delay)
    if jitter:
        base = int((rng or random).random() * base * jitter + base * (1 - jitter))
    return max(int(base), 0)
