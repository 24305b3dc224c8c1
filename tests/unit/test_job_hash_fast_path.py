"""The fast engine's one-pass check of a fetched job hash says what the general one says.

`check_job_fields` (moveToActive's flat reply) decodes everything at once and
falls back to `check_job_hash` when a value is not valid UTF-8; both must find
the same problems, make the same repairs and keep the same options, or a
hostile job would fail differently on the two engines.
"""

from __future__ import annotations

import pytest

from bench.runtime_levers import JOB_HASH
from workers.job_hash import check_job_fields, check_job_hash

# The bench's fetched job, with a backoff to check as well.
GOOD = {
    **JOB_HASH,
    b"opts": b'{"attempts":3,"backoff":{"type":"fixed","delay":10},"removeOnComplete":true}',
}

CASES = {
    "good": GOOD,
    "negative counter": {**GOOD, b"atm": b"-1"},
    "non-ASCII digits": {**GOOD, b"atm": "٣".encode()},
    "text counter": {**GOOD, b"timestamp": b"soon"},
    "empty counter": {**GOOD, b"delay": b""},
    "signed counter": {**GOOD, b"stc": b"+3"},
    "superscript counter": {**GOOD, b"priority": "²".encode()},
    "returnvalue not JSON": {**GOOD, b"returnvalue": b"{"},
    "bad UTF-8 name": {**GOOD, b"name": b"\xff\xfe"},
    "no name, no data": {k: v for k, v in GOOD.items() if k not in (b"name", b"data")},
    "opts not JSON": {**GOOD, b"opts": b"{nope"},
    "opts a list": {**GOOD, b"opts": b"[1]"},
    "every bad option": {
        **GOOD,
        b"opts": b'{"attempts":true,"backoff":{"type":"weird"},"removeOnComplete":"x",'
        b'"removeOnFail":{"age":-1},"stackTraceLimit":-2}',
    },
    "retention object": {**GOOD, b"opts": b'{"removeOnComplete":{"age":60,"count":10}}'},
    "progress not JSON": {**GOOD, b"progress": b"{"},
    "stacktrace not a list": {**GOOD, b"stacktrace": b'{"a":1}'},
}


@pytest.mark.parametrize("raw", CASES.values(), ids=CASES.keys())
def test_it_should_check_a_flat_reply_as_the_hash_check_does(raw: dict[bytes, bytes]) -> None:
    flat = [part for pair in raw.items() for part in pair]
    fast, general = check_job_fields(flat), check_job_hash(raw)
    assert fast.problems == general.problems
    assert fast.repairs == general.repairs
    assert fast.opts == general.opts
    assert fast.fields == general.fields


def test_it_should_name_each_bad_option_in_order() -> None:
    flat = [part for pair in CASES["every bad option"].items() for part in pair]
    checked = check_job_fields(flat)
    # Pinned as the checks wrote them before the one-pass rewrite, in the same order.
    assert checked.problems == [
        "opts.attempts is not a non-negative integer",
        "opts.backoff.type 'weird' is not one of fixed, exponential",
        "opts.removeOnComplete is not a boolean, a count or {age, count}",
        "opts.removeOnFail is not a boolean, a count or {age, count}",
        "opts.stackTraceLimit is not a non-negative integer",
    ]
    assert checked.opts == {}  # every bad option dropped


def test_it_should_refuse_an_odd_reply() -> None:
    with pytest.raises(ValueError):
        check_job_fields([b"name", b"noop", b"data"])
