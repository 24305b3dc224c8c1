"""Check a job hash as fetched from Redis before either engine reads it.

A job hash is written by whatever producer reached Redis: Node or Python
BullMQ, a dashboard, or a hand-written HSET. A field neither engine can read
(an `opts` that is not a JSON object, `attempts: "x"`, a non-numeric `atm`,
an invalid-UTF-8 `name`, no `data`, a garbage `backoff`) used to break the
fetch after the job was already in `active`, so its slot stayed pinned and
nothing reached the dead-letter queue (drill:
tests/drills/test_it_should_never_pin_a_slot_with_a_malformed_job.py).

`check_job_hash` returns a cleaned copy that both engines can decode (bad
fields replaced by neutral defaults, so the failing scripts get sane
arguments) and the list of problems; the runtime then fails a job with any
problem at once, without retries, into `<queue>-dlq` with the problems as
the reason (workers/runtime.py `process`). Nothing here talks to Redis or
imports `bullmq`; what a field means is BullMQ's job hash (bullmq/job.py
`Job.fromJSON`, and workers/bullmq_wire.py for the fast engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# Integer counters and times the engines parse with int().
_INTEGER_FIELDS = (
    "atm",
    "attemptsMade",
    "ats",
    "stc",
    "timestamp",
    "delay",
    "priority",
    "processedOn",
    "finishedOn",
)
# JSON fields bullmq's Job.fromJSON parses.
_JSON_FIELDS = ("progress", "returnvalue")
_NOT_JSON = object()
_BACKOFF_TYPES = ("fixed", "exponential")
_RETENTION_KEYS = ("age", "count", "limit")


@dataclass(slots=True)  # built per fetched job
class CheckedHash:
    """The hash as text both engines can read, and what was wrong with it."""

    fields: dict[str, str]
    problems: list[str] = field(default_factory=list)
    # Integer fields BullMQ's scripts HINCRBY (atm on failing): the engine writes
    # these back before failing the job, or the failing script itself errors.
    repairs: dict[str, str] = field(default_factory=dict)
    # `opts` parsed and cleaned (None when the hash has none), so the fast engine
    # does not parse the same JSON again (workers/bullmq_wire.py).
    opts: dict[str, Any] | None = None

    @property
    def problem(self) -> str | None:
        """One line for the failure reason and the DLQ entry, or None when readable."""
        if not self.problems:
            return None
        return "unreadable job hash: " + "; ".join(self.problems)


def _text(value: str | bytes) -> tuple[str, bool]:
    """The value as text, and whether it was valid UTF-8.

    Bytes come from the fast engine; str from redis-py decoding with
    `surrogateescape` (the stock engine), where invalid bytes show as lone
    surrogates.
    """
    if isinstance(value, bytes):
        try:
            return value.decode(), True
        except UnicodeDecodeError:
            return value.decode(errors="replace"), False
    try:
        value.encode()
        return value, True
    except UnicodeEncodeError:
        raw = value.encode(errors="surrogateescape")
        return raw.decode(errors="replace"), False


def _parses_as_int(text: str) -> bool:
    if text.isascii() and text.isdigit():  # the common case, without an exception frame
        return True
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_int(value: Any, minimum: int | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return minimum is None or value >= minimum


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value >= 0


def _backoff_problem(backoff: Any) -> str | None:
    if backoff is None or _is_number(backoff):
        return None
    if not isinstance(backoff, dict):
        return f"opts.backoff is {type(backoff).__name__}, not a number or an object"
    kind = backoff.get("type", "fixed")
    if kind not in _BACKOFF_TYPES:
        return f"opts.backoff.type {str(kind)[:40]!r} is not one of {', '.join(_BACKOFF_TYPES)}"
    for key in ("delay", "jitter"):
        if key in backoff and backoff[key] is not None and not _is_number(backoff[key]):
            return f"opts.backoff.{key} is not a non-negative number"
    return None


def _retention_problem(name: str, keep: Any) -> str | None:
    if keep is None or isinstance(keep, bool) or _is_int(keep, 0):
        return None
    if isinstance(keep, dict) and all(
        k in _RETENTION_KEYS and _is_number(v) for k, v in keep.items()
    ):
        return None
    return f"opts.{name} is not a boolean, a count or {{age, count}}"


def _drop(opts: dict[str, Any], problems: list[str], key: str, problem: str | None) -> None:
    if problem is not None:
        problems.append(problem)
        del opts[key]


def _opts_problems(opts: dict[str, Any]) -> list[str]:
    """Problems of the options the engines act on; each bad option is dropped from `opts`.

    Runs for every fetched job: each check looks at its option only when it is set and
    not of the usual kind, so a well-formed `opts` costs a few dict lookups."""
    problems: list[str] = []
    attempts = opts.get("attempts")
    if attempts is not None and (type(attempts) is not int or attempts < 0):  # bool too
        _drop(opts, problems, "attempts", "opts.attempts is not a non-negative integer")
    backoff = opts.get("backoff")
    if backoff is not None:
        _drop(opts, problems, "backoff", _backoff_problem(backoff))
    for key in ("removeOnComplete", "removeOnFail"):
        keep = opts.get(key)
        if keep is not None and keep is not True and keep is not False:
            _drop(opts, problems, key, _retention_problem(key, keep))
    limit = opts.get("stackTraceLimit")
    if limit is not None and not _is_int(limit, 0):
        _drop(
            opts, problems, "stackTraceLimit", "opts.stackTraceLimit is not a non-negative integer"
        )
    return problems


def _decoded(raw: Mapping[Any, Any], problems: list[str]) -> dict[str, str]:
    try:  # the fast engine's bytes, all valid UTF-8: one pass, no per-field checks
        fields = {key.decode(): value.decode() for key, value in raw.items()}
    except (AttributeError, UnicodeDecodeError):  # str values (stock engine), or bad bytes
        fields = {}
        for key, value in raw.items():
            name, _ = _text(key)
            text, valid = _text(value)
            fields[name] = text
            if not valid:
                problems.append(f"{name} is not valid UTF-8")
    return fields


def _require(fields: dict[str, str], problems: list[str]) -> None:
    """A missing name or data: a problem, and a neutral stand-in."""
    if "name" not in fields:
        problems.append("name is missing")
        fields["name"] = ""
    if "data" not in fields:
        # No JSON to validate: a validation failure, not an empty payload.
        problems.append("data is missing")
        fields["data"] = "null"


def _scalar_repairs(fields: dict[str, str], problems: list[str]) -> dict[str, str]:
    """Bad counters and JSON fields, replaced in `fields`; what to write back."""
    repairs: dict[str, str] = {}
    for name in _INTEGER_FIELDS:
        value = fields.get(name)
        # The common case inline (a call per field per job adds up: docs/throughput.md).
        if value and not (value.isdigit() and value.isascii()) and not _parses_as_int(value):
            problems.append(f"{name} {value[:40]!r} is not an integer")
            fields[name] = repairs[name] = "0"
    for name in _JSON_FIELDS:
        value = fields.get(name)
        if value and not _parses_as_json(value):
            problems.append(f"{name} is not JSON")
            fields[name] = repairs[name] = "0" if name == "progress" else "null"
    stack = fields.get("stacktrace")
    if stack and not isinstance(_json_or_not(stack), list):
        problems.append("stacktrace is not a JSON array")
        fields["stacktrace"] = "[]"
    return repairs


def _clean_opts(fields: dict[str, str], problems: list[str]) -> dict[str, Any] | None:
    """The job's options parsed once, without the ones the engines cannot act on."""
    raw_opts = fields.get("opts")
    if not raw_opts:
        return None
    before = len(problems)
    opts: Any = _json_or_not(raw_opts)
    if opts is _NOT_JSON:
        problems.append("opts is not JSON")
        opts = {}
    elif not isinstance(opts, dict):
        problems.append(f"opts is a JSON {type(opts).__name__}, not an object")
        opts = {}
    problems += _opts_problems(opts)
    if len(problems) > before:  # re-encode only what was cleaned
        fields["opts"] = orjson.dumps(opts).decode()
    cleaned: dict[str, Any] = opts
    return cleaned


def _json_or_not(text: str) -> Any:
    """The parsed JSON value, or _NOT_JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _parses_as_json(text: str) -> bool:
    return _json_or_not(text) is not _NOT_JSON


def check_job_fields(flat: list[bytes]) -> CheckedHash:
    """check_job_hash of a flat field/value list (moveToActive's reply to the fast engine),
    decoded in one pass when it is all valid UTF-8."""
    try:
        texts = map(bytes.decode, flat)
        fields = dict(zip(texts, texts, strict=True))
    except (UnicodeDecodeError, TypeError):  # bad bytes (named per field there), or not bytes
        pairs = iter(flat)
        return check_job_hash(dict(zip(pairs, pairs, strict=True)))
    return _checked(fields, [])


def check_job_hash(raw: Mapping[Any, Any]) -> CheckedHash:
    """The job hash `raw` (bytes or str keys and values) checked and cleaned."""
    problems: list[str] = []
    return _checked(_decoded(raw, problems), problems)


def _checked(fields: dict[str, str], problems: list[str]) -> CheckedHash:
    """The checks after decoding, the same for both entries (`problems`: decoding's)."""
    _require(fields, problems)
    repairs = _scalar_repairs(fields, problems)
    opts = _clean_opts(fields, problems)
    return CheckedHash(fields, problems, repairs, opts)
