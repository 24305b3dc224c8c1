"""Spec -> BullMQ job options: what every producer of the platform sets.

Producers (the ops CLI, handlers' follow-up jobs, the DLQ retry, the local
stack's samples) and the scheduler's job templates all take a queue's
attempts, backoff, retention and priority from here, so a job behaves the same
whoever enqueued it. camelCase BullMQ option names live here.
"""

from __future__ import annotations

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


def child_failure_options(on_failure: str | None) -> dict[str, bool]:
    """What a flow child's failure does to its parent: None leaves the parent waiting
    (BullMQ's default), `fail` fails it (failParentOnFailure), `ignore` lets it run,
    recording the failure (ignoreDependencyOnFailure)."""
    if on_failure is None:
        return {}
    if on_failure == "fail":
        return {"failParentOnFailure": True}
    if on_failure == "ignore":
        return {"ignoreDependencyOnFailure": True}
    raise ValueError(f"on_failure: {on_failure!r} is not fail, ignore or None")


def flow_child_options(parent_id: str, parent_queue: str, on_failure: str | None) -> dict[str, Any]:
    """Options that make a job a child of `parent_queue`'s (`prefix:queue`) job `parent_id`."""
    return {"parent": {"id": parent_id, "queue": parent_queue}, **child_failure_options(on_failure)}
