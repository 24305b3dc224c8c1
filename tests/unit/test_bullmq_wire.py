"""BullMQ's wire knowledge (workers/bullmq_wire.py), checked without a server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from workers.bullmq_wire import (
    SCRIPT_FILES,
    SCRIPTS_DIR,
    ScriptKeys,
    backoff_delay_ms,
    job_from_reply,
)

KEYS = ScriptKeys("bull", "q")


@pytest.mark.parametrize(
    ("script", "keys"),
    [
        ("moveToActive", KEYS.move_to_active),
        *[
            ("moveToFinished", [KEYS.job("1") if k is None else k for k in slots])
            for slots in (
                KEYS.move_to_finished_slots("completed"),
                KEYS.move_to_finished_slots("failed"),
            )
        ],
        ("moveToDelayed", KEYS.move_to_delayed("1")),
        ("retryJob", KEYS.retry_job("1")),
        ("extendLocks", KEYS.extend_locks),
        ("moveStalledJobsToWait", KEYS.move_stalled_jobs_to_wait),
    ],
)
def test_each_script_gets_the_keys_its_file_name_counts(script: str, keys: list[bytes]) -> None:
    """bullmq names each script `<name>-<number of KEYS>.lua`; the file must exist."""
    filename = SCRIPT_FILES[script]
    assert (SCRIPTS_DIR / filename).is_file()
    match = re.fullmatch(rf"{script}-(\d+)\.lua", filename)
    assert match is not None
    assert len(keys) == int(match.group(1))
    assert all(key.startswith(b"bull:q:") for key in keys)


@pytest.mark.parametrize(
    ("backoff", "attempt", "low", "high"),
    [
        ({"type": "fixed", "delay": 1000}, 3, 1000, 1000),
        ({"type": "exponential", "delay": 1000}, 1, 1000, 1000),
        ({"type": "exponential", "delay": 1000}, 3, 4000, 4000),
        ({"type": "exponential", "delay": 1000, "jitter": 0.5}, 3, 2000, 4000),
        ({"type": "fixed", "delay": 1000, "jitter": 1.0}, 1, 0, 1000),
        (500, 2, 500, 500),
        (None, 2, 0, 0),
    ],
)
def test_it_should_compute_backoff_like_node_bullmq(
    backoff: Any, attempt: int, low: int, high: int
) -> None:
    for _ in range(50):
        assert low <= backoff_delay_ms(backoff, attempt) <= high


def test_job_from_reply_should_put_each_field_where_it_belongs() -> None:
    """FastJob is built positionally (workers/bullmq_wire.py): every field distinct here,
    so a swapped argument shows."""
    hash_ = {
        b"name": b"nm",
        b"data": b'{"d":1}',
        b"opts": b'{"attempts":4,"fpof":true}',
        b"atm": b"2",
        b"ats": b"3",
        b"timestamp": b"1700000000005",
        b"stc": b"6",
        b"rjk": b"repeat:key",
        b"stacktrace": b'["s"]',
        b"processedOn": b"1700000000007",
        b"parent": b'{"id":"p1","queueKey":"bull:parent"}',
    }
    job = job_from_reply([x for pair in hash_.items() for x in pair], b"id1", "qn", "tok")
    assert (job.id, job.name, job.data, job.token, job.queue_name) == (
        "id1",
        "nm",
        {"d": 1},
        "tok",
        "qn",
    )
    assert job.opts == {"attempts": 4, "failParentOnFailure": True}
    assert (job.attempts_made, job.attempts_started, job.stalled_counter) == (2, 3, 6)
    assert (job.timestamp, job.processed_on) == (1700000000005, 1700000000007)
    assert (job.repeat_job_key, job.raw_stacktrace, job.deferred_failure) == (
        "repeat:key",
        b'["s"]',
        None,
    )
    assert job.parent == {"id": "p1", "queue": "bull:parent"}
    assert (job.failed_reason, job.extra, job.attachment) == (None, {}, None)
