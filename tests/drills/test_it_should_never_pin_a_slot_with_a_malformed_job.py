"""Drill (issue 25, item 1): a malformed job hash never pins a worker's slot.

Seventeen job hashes a worker cannot read (garbage `opts`, bad counters, invalid
UTF-8, no `data`, a garbage `backoff` or retention), written by hand as a broken
producer or a dashboard would, among 20 good jobs, on a real `python -m workers`
process of each engine. Every malformed job must fail at once (no retry, though
its queue allows 3 attempts) into `<queue>-dlq` naming what is wrong, nothing
may stay in `active`, and every good job must complete exactly once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from drill_support import Figures, add, admin, counts, drill_spec, runs, stop, wait_until
from drill_support import workers as start_workers

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer
from workers.dlq import entry_id

pytestmark = [pytest.mark.redis, pytest.mark.drill]
GOOD = 20
GOOD_OPTS = json.dumps({"attempts": 3, "backoff": {"type": "fixed", "delay": 0}})
# case: (fields replaced in a good hash (None: field removed), what the DLQ error names)
MALFORMED: dict[str, tuple[dict[str, str | bytes | None], str]] = {
    "opts-not-json": ({"opts": "{attempts: 3"}, "opts is not JSON"),
    "opts-array": ({"opts": "[3]"}, "opts is a JSON list"),
    "opts-number": ({"opts": "42"}, "opts is a JSON int"),
    "attempts-text": ({"opts": '{"attempts": "x"}'}, "opts.attempts"),
    "attempts-negative": ({"opts": '{"attempts": -1}'}, "opts.attempts"),
    "attempts-object": ({"opts": '{"attempts": {}}'}, "opts.attempts"),
    "atm-text": ({"atm": "x"}, "atm 'x' is not an integer"),
    "stc-text": ({"stc": "many"}, "stc 'many' is not an integer"),
    "timestamp-text": ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not an integer"),
    "name-bad-utf8": ({"name": b"work\xff\xfe"}, "name is not valid UTF-8"),
    "name-missing": ({"name": None}, "name is missing"),
    "data-bad-utf8": ({"data": b'{"seconds": 0, "x": "\xff"}'}, "data is not valid UTF-8"),
    "data-missing": ({"data": None}, "data is missing"),
    "backoff-text": ({"opts": '{"attempts": 3, "backoff": "soon"}'}, "opts.backoff is str"),
    "backoff-type": (
        {"opts": '{"attempts": 3, "backoff": {"type": "warp", "delay": 1}}'},
        "opts.backoff.type 'warp'",
    ),
    "backoff-delay": (
        {"opts": '{"attempts": 3, "backoff": {"type": "fixed", "delay": "x"}}'},
        "opts.backoff.delay",
    ),
    "remove-on-fail": ({"opts": '{"attempts": 3, "removeOnFail": "never"}'}, "opts.removeOnFail"),
}


def _write_malformed(client: redis.Redis, queue: str) -> None:
    """Each malformed hash, pushed to `wait` and announced on the marker as BullMQ does."""
    for case, (fields, _) in MALFORMED.items():
        job: dict[str, str | bytes | None] = {
            "name": "work",
            "data": '{"seconds": 0}',
            "opts": GOOD_OPTS,
            "timestamp": str(int(time.time() * 1000)),
            "delay": "0",
            "priority": "0",
            **fields,
        }
        key = f"bull:{queue}:bad-{case}"
        client.hset(key, mapping={k: v for k, v in job.items() if v is not None})
        client.lpush(f"bull:{queue}:wait", f"bad-{case}")
    client.zadd(f"bull:{queue}:marker", {"0": 0})


@pytest.mark.parametrize("engine", ["fast", "stock"])
def test_it_should_dead_letter_every_malformed_hash_and_complete_every_good_job(
    redis_server: RedisServer, queue_name: str, tmp_path: Path, engine: str
) -> None:
    spec = drill_spec(queue_name, concurrency=4, attempts=3)
    dlq = spec.queues[0].dlq_name
    client = admin(redis_server)
    procs = start_workers(redis_server, spec, tmp_path, 1, engine=engine)
    try:
        add(redis_server, queue_name, GOOD // 2)
        _write_malformed(client, queue_name)
        add(redis_server, queue_name, GOOD - GOOD // 2, first=GOOD // 2)
        total = GOOD + len(MALFORMED)

        def settled() -> bool:
            # The DLQ entry is written just after the job lands in `failed`: wait for both.
            c = counts(client, queue_name)
            letters = sum(
                client.exists(f"bull:{dlq}:{entry_id(queue_name, f'bad-{case}')}")
                for case in MALFORMED
            )
            return (
                c["completed"] + c["failed"] >= total
                and c["active"] == 0
                and letters == len(MALFORMED)
            )

        done = wait_until(settled, timeout=60)
        final = counts(client, queue_name)
        healthy = procs[0].probe("/healthz")
        letters: dict[str, dict[str, object]] = {}
        for case in MALFORMED:
            raw = client.hget(f"bull:{dlq}:{entry_id(queue_name, f'bad-{case}')}", "data")
            letters[case] = json.loads(raw) if raw else {}
        failed_ids = set(client.zrange(f"bull:{queue_name}:failed", 0, -1))
        seen = runs(client, queue_name)
        codes = stop_all(procs)
    finally:
        stop(procs)
        client.close()
    completed = len({i for i in seen.done if i.startswith("j")})
    stuck = final["active"] + sum(1 for c in MALFORMED if f"bad-{c}" not in failed_ids)
    figures = Figures(
        f"malformed job hashes ({engine})",
        sent=GOOD,
        completed=completed,
        duplicated=seen.duplicated,
        lost=GOOD - completed,
        extra={
            "malformed_sent": len(MALFORMED),
            "dead_lettered": sum(1 for v in letters.values() if v),
            "stuck": stuck,
        },
    )
    figures.check()
    assert done, final
    assert stuck == 0, final
    assert seen.duplicated == 0, seen.runs
    for case, (_, reason) in MALFORMED.items():
        letter = letters[case]
        assert letter, f"{case}: no DLQ entry"
        assert reason in str(letter["error"]), f"{case}: DLQ error {letter['error']!r}"
        assert letter["attemptsMade"] == 1, f"{case}: a malformed job must not be retried"
    assert healthy == 200, "the worker's fetch loop must still be alive"
    assert all(code == 0 for code in codes.values()), codes
