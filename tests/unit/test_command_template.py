"""The fast engine's hand-packed finish is byte for byte what hiredis packs
(workers/_fast_redis.py CommandTemplate; docs/throughput.md, "Seventh round")."""

from __future__ import annotations

import hiredis
import pytest

from workers._fast_redis import CommandTemplate, unpack_command
from workers.engine_fast import FastEngine

SHA = b"e" * 40


def test_it_should_pack_like_hiredis_with_percent_signs_and_empty_values() -> None:
    fixed = [b"EVALSHA", SHA, b"2", b"bull:{100%}:wait", None, b"%d%b%%", None, b""]
    template = CommandTemplate(fixed)
    values = [b"bull:{100%}:7", b"\x00\xff%s\r\n"]
    it = iter(values)
    expected = hiredis.pack_command(tuple(next(it) if a is None else a for a in fixed))
    assert template.pack(values) == expected
    assert template.slots == 2
    assert unpack_command(template.pack(values)) == [
        b"EVALSHA",
        SHA,
        b"2",
        b"bull:{100%}:wait",
        b"bull:{100%}:7",
        b"%d%b%%",
        b"\x00\xff%s\r\n",
        b"",
    ]


def test_it_should_refuse_a_wrong_number_of_values_and_two_commands() -> None:
    template = CommandTemplate([b"GET", None])
    with pytest.raises(ValueError, match="1 values expected, got 2"):
        template.pack([b"a", b"b"])
    with pytest.raises(ValueError, match="not one packed command"):
        unpack_command(hiredis.pack_command(("PING",)) * 2)


@pytest.mark.parametrize(
    ("target", "prop", "fields"),
    [
        ("completed", b"returnvalue", None),
        ("failed", b"failedReason", b"\x94\xacfailedReason\xa4boom"),
    ],
)
def test_the_engines_finish_should_be_the_command_it_packed_before(
    target: str, prop: bytes, fields: bytes | None
) -> None:
    """The template's command equals moveToFinished packed from its KEYS and ARGV lists
    (bullmq_wire.ScriptKeys, the script's ARGV order), as the engine sent it before."""
    engine = FastEngine("q%1", {"host": "127.0.0.1", "port": 1})
    engine._redis._scripts["moveToFinished"] = (SHA, b"-- body")
    job_id, now, value, opts = "42é", 1_700_000_000_123, b'{"ok":true}', b"\x81\xa1k\x01"
    # moveToFinished-14.lua's KEYS, spelled out here rather than taken from ScriptKeys
    # (whose list is derived from the same slots the template uses).
    base = engine.keys.base
    keys = [
        f"{base}{suffix}".encode()
        for suffix in (
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
            target,
            job_id,
            f"metrics:{target}",
            "marker",
        )
    ]
    args = [job_id, now, prop, value, target, b"1", engine.keys.base_b, opts]
    if fields is not None:
        args.append(fields)
    before = hiredis.pack_command(("EVALSHA", SHA, len(keys), *keys, *args))
    id_b = job_id.encode()
    values = [engine.keys.base_b + id_b, id_b, b"%d" % now, value, b"1", opts]
    if fields is not None:
        values.append(fields)
    assert engine._finish_template(target, prop, fields is not None).pack(values) == before
