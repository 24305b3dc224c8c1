"""BullMQ's wire: which Lua scripts, their KEYS per queue, job hash decoding, backoff.

Everything here is knowledge of the installed `bullmq` package's scripts
(read from the package at run time, never copied) and of what Node BullMQ
stores in a job hash; nothing here talks to Redis. The loop that calls the
scripts is workers/engine_fast.py. This module imports neither `bullmq`
(its scripts are found on disk) nor the runtime's modules.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import orjson

from platform_spec.keys import METRICS_KINDS, QueueKeys
from workers.job_hash import check_job_fields


def _bullmq_dir() -> Path:
    """The installed bullmq package's folder, found without importing it."""
    spec = importlib.util.find_spec("bullmq")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the bullmq package is not installed (its Lua scripts are needed)")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


# The Lua scripts ship inside the pinned bullmq package; we read them from there.
SCRIPTS_DIR = _bullmq_dir() / "commands"
SCRIPT_FILES = {
    "moveToActive": "moveToActive-11.lua",
    "moveToFinished": "moveToFinished-14.lua",
    "moveToDelayed": "moveToDelayed-11.lua",
    "retryJob": "retryJob-11.lua",
    "extendLocks": "extendLocks-1.lua",
    "moveStalledJobsToWait": "moveStalledJobsToWait-9.lua",
}

# Short option names Node BullMQ stores in a job's `opts` (bullmq.job.optsDecodeMap).
OPTS_DECODE = {
    "fpof": "failParentOnFailure",
    "cpof": "continueParentOnFailure",
    "idof": "ignoreDependencyOnFailure",
    "rdof": "removeDependencyOnFailure",
    "kl": "keepLogs",
    "de": "deduplication",
}
_SHORT_NAMES = frozenset(OPTS_DECODE)


@dataclass(slots=True)  # built per job: slotted attributes are cheaper to set and read
class FastJob:
    """The job handed to the processor: what a handler needs, nothing lazy."""

    id: str
    name: str
    data: Any
    opts: dict[str, Any]
    attempts_made: int
    attempts_started: int = 0
    timestamp: int = 0
    token: str = ""
    stalled_counter: int = 0
    repeat_job_key: str | None = None
    deferred_failure: str | None = None
    raw_stacktrace: bytes | None = None
    failed_reason: str | None = None
    queue_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    processed_on: int = 0
    parent: dict[str, str] | None = None  # {"id", "queue"} of a flow's child
    # What the caller built from this job once, kept for its completion: the runtime's
    # JobView (workers/engine_fast_adapter.py). Lives and dies with the job.
    attachment: Any = None

    # camelCase aliases, so handlers written for bullmq.Job keep working.
    @property
    def attemptsMade(self) -> int:
        return self.attempts_made

    @property
    def attemptsStarted(self) -> int:
        return self.attempts_started

    @property
    def attempts(self) -> int:
        return int(self.opts.get("attempts") or 1)


def spelled_out(opts: dict[str, Any] | None) -> dict[str, Any]:
    """Parsed options with Node's short names spelled out (the dict itself when it has
    none, as most jobs' options: the caller owns the parsed dict)."""
    if not opts:
        return {}
    if _SHORT_NAMES.isdisjoint(opts):
        return opts
    return {OPTS_DECODE.get(k, k): v for k, v in opts.items()}


def job_from_reply(
    fields: list[bytes],
    job_id: bytes,
    queue_name: str,
    token: str,
    on_bad_data: Callable[[bytes, Exception], Any] | None = None,
) -> FastJob:
    """A FastJob from moveToActive's reply (the job hash as a flat field/value list)."""
    checked = check_job_fields(fields)
    h = checked.fields
    deferred_failure = h.get("defa") or checked.problem
    data_raw = h["data"]
    try:
        data = orjson.loads(data_raw)
    except orjson.JSONDecodeError as err:
        if on_bad_data is None:
            data, deferred_failure = None, deferred_failure or f"job data is not JSON: {err}"
        else:
            data = on_bad_data(data_raw.encode(), err)
    stacktrace = h.get("stacktrace")
    # Positional, in FastJob's field order: a slotted dataclass built with 17 keyword
    # arguments costs 3 times as much, 0.9 against 0.3 us (docs/throughput.md).
    return FastJob(
        job_id.decode(),  # id
        h["name"],  # name
        data,
        spelled_out(checked.opts),  # opts
        int(h.get("atm") or h.get("attemptsMade") or 0),  # attempts_made
        int(h.get("ats") or 0),  # attempts_started
        int(h.get("timestamp") or 0),  # timestamp
        token,
        int(h.get("stc") or 0),  # stalled_counter
        h.get("rjk"),  # repeat_job_key
        deferred_failure,
        stacktrace.encode() if stacktrace is not None else None,  # raw_stacktrace
        None,  # failed_reason
        queue_name,
        {"repairs": checked.repairs} if checked.repairs else {},  # extra
        int(h.get("processedOn") or 0),  # processed_on
        parent_of(h.get("parent")),  # parent
    )


def parent_of(raw: str | bytes | None) -> dict[str, str] | None:
    """A child's `parent` field ({"id", "queueKey"} JSON) as {"id", "queue"}."""
    if not raw:
        return None
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        parent = orjson.loads(raw)
        return {"id": str(parent["id"]), "queue": str(parent["queueKey"])}
    return None


def keep_jobs(remove: Any) -> dict[str, Any]:
    """BullMQ's keepJobs from removeOnComplete/removeOnFail (scripts.getKeepJobs)."""
    if isinstance(remove, bool) or remove is None:
        return {"count": 0} if remove else {"count": -1}
    if isinstance(remove, int):
        return {"count": remove}
    if isinstance(remove, dict):
        return remove
    return {"count": -1}


def backoff_delay_ms(backoff: Any, attempts_made: int, rng: random.Random | None = None) -> int:
    """Delay before the next attempt, exactly as Node BullMQ 6 computes it.

    The platform's only backoff formula (both engines reach it through
    workers/options.py). `attempts_made` counts the attempt that just failed
    (1 after the first), as Node's `Job.moveToFailed` passes `attemptsMade + 1`.
    Node's builtinStrategies (node_modules/bullmq/dist/esm/classes/backoffs.js):
    exponential is `Math.round(2^(attemptsMade-1) * delay)`; jitter j gives
    `Math.floor(random * delay * j + delay * (1 - j))`, i.e. up to j of the
    delay taken off.
    """
    if backoff is None or backoff == 0:
        return 0
    if isinstance(backoff, int | float):
        backoff = {"type": "fixed", "delay": backoff}
    kind = backoff.get("type", "fixed")
    delay = float(backoff.get("delay") or 0)
    jitter = float(backoff.get("jitter") or 0)
    if kind == "exponential":
        delay = math.floor(2 ** (attempts_made - 1) * delay + 0.5)  # JS Math.round
    elif kind != "fixed":
        raise ValueError(f"unknown backoff type {kind!r}: use fixed or exponential")
    if jitter > 0:
        return math.floor((rng or random).random() * delay * jitter + delay * (1 - jitter))
    return int(delay)


def now_ms() -> int:
    return int(time.time() * 1000)


def failure_fields(job: FastJob, err: BaseException, reason: str) -> bytes:
    """The failedReason/stacktrace fields the failing scripts store (stackTraceLimit applied)."""
    stack: list[str] = []
    if job.raw_stacktrace:
        with contextlib.suppress(ValueError):
            stack = list(orjson.loads(job.raw_stacktrace))
    stack.append("".join(traceback.format_exception(err)))
    limit = job.opts.get("stackTraceLimit")
    if limit == 0:
        stack = []
    elif limit:
        stack = stack[-int(limit) :]
    packed: bytes = msgpack.packb(
        ["failedReason", reason, "stacktrace", orjson.dumps(stack).decode()],
        use_bin_type=True,
    )
    return packed


class ScriptKeys:
    """The KEYS of each script for one queue, encoded once, in each script's order.

    The names come from platform_spec/keys.py; the orders are those of the
    scripts' headers in the installed package (bullmq/commands/<script>-<n>.lua).
    """

    def __init__(self, prefix: str, queue: str) -> None:
        self.names = names = QueueKeys(prefix, queue)
        self.base = names.job_prefix
        self.base_b = self.base.encode()

        def k(*suffixes: str) -> list[bytes]:
            return [names.key(s).encode() for s in suffixes]

        self.marker = names.marker.encode()
        head = k(
            "wait",
            "active",
            "prioritized",
            "events",
            "stalled",
            "limiter",
            "delayed",
            "paused",
            "meta",
            "pc",
        )
        self.move_to_active = [*head, self.marker]
        self._finished_head = {t: [*head, *k(t)] for t in METRICS_KINDS}
        self._metrics = {t: names.metrics(t).encode() for t in METRICS_KINDS}
        self.extend_locks = k("stalled")
        self.move_stalled_jobs_to_wait = k(
            "stalled", "wait", "active", "stalled-check", "meta", "paused", "marker", "events"
        ) + k("repeat")
        self._retry_head = k("active", "wait", "paused")
        self._retry_tail = k("meta", "events", "delayed", "prioritized", "pc", "marker", "stalled")
        self._delayed_head = k("marker", "active", "prioritized", "delayed")
        self._delayed_tail = k("events", "meta", "stalled", "wait", "limiter", "pc")

    def job(self, job_id: str) -> bytes:
        return self.names.job(job_id).encode()

    def move_to_finished_slots(self, target: str) -> list[bytes | None]:
        """moveToFinished's KEYS with None for the job's key (the slot the fast engine's
        CommandTemplate fills with base_b + the job's id)."""
        return [*self._finished_head[target], None, self._metrics[target], self.marker]

    def retry_job(self, job_id: str) -> list[bytes]:
        return [*self._retry_head, self.job(job_id), *self._retry_tail]

    def move_to_delayed(self, job_id: str) -> list[bytes]:
        return [*self._delayed_head, self.job(job_id), *self._delayed_tail]
