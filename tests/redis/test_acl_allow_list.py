"""`worker` and `scheduler` hold exactly the commands platform_spec/acl_commands.py derives.

The chart renders `-@all` plus that list (issue 25, item 2). Every test that uses
the session server already fails on any command refused to these users
(tests/conftest.py, `no_acl_denials`); these check the list itself: rendered as
derived, nothing dangerous in it, and SCRIPT KILL the scheduler's alone.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from acl_guard import allow_list_denials

from local_stack.redis_server import local_spec, render_redis_files
from platform_spec.acl_commands import bullmq_script_commands, role_commands
from platform_spec.keys import QueueKeys

pytestmark = pytest.mark.redis
KEY = QueueKeys("bull", "acl-allow-list").wait

# Neither role may run these: server-wide damage, key listing across prefixes, one
# write past any request size, or admin work (docs/security.md).
REFUSED = [
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("DEBUG", "SLEEP", "0"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("SETRANGE", KEY, "209715200", "x"),
    ("APPEND", KEY, "x"),
    ("SETBIT", KEY, "1677721600", "1"),
    ("BITFIELD", KEY, "SET", "u8", "1677721600", "1"),
    ("MODULE", "LIST"),
    ("SHUTDOWN", "NOSAVE"),
    ("MONITOR",),
    ("SCRIPT", "FLUSH"),
    ("FUNCTION", "FLUSH"),
    ("ACL", "SETUSER", "x"),
    ("CLIENT", "KILL", "ID", "1"),
    ("CLIENT", "PAUSE", "1"),
    ("REPLICAOF", "NO", "ONE"),
    ("BGSAVE",),
    ("SAVE",),
    ("SWAPDB", "0", "1"),
    ("MIGRATE", "h", "1", KEY, "0", "1"),
    ("SORT", KEY, "STORE", KEY),
    ("COPY", KEY, KEY),
    ("OBJECT", "ENCODING", KEY),
    ("PUBLISH", "c", "x"),
]


SUBCOMMANDS = {"SCRIPT", "CLIENT", "ACL", "CONFIG", "MODULE", "OBJECT", "FUNCTION", "DEBUG"}


def _rule_commands(rules: str, user: str) -> list[str]:
    """The `+command` grants of one user's line in rendered ACL rules, upper case."""
    (line,) = [x for x in rules.splitlines() if x.startswith(f"{user} ")]
    words = line.split()
    assert words[2] == "-@all" and "+@" not in line, line  # no category, one by one
    return [w[1:].upper() for w in words[3:] if w.startswith("+")]


def test_it_should_render_exactly_the_derived_list() -> None:
    rules = render_redis_files(local_spec())["acl.rules"]
    for role in ("worker", "scheduler"):
        assert _rule_commands(rules, role) == list(role_commands(role)), role


def test_it_should_hold_every_script_command_and_nothing_dangerous() -> None:
    for role in ("worker", "scheduler"):
        allowed = set(role_commands(role))
        assert bullmq_script_commands() <= allowed, role
        dangerous = {"|".join(c[:2]) if c[0] in SUBCOMMANDS else c[0] for c in REFUSED}
        assert not allowed & dangerous, (role, allowed & dangerous)


def _dry_run(admin: redis.Redis, role: str, *command: str) -> str:
    return str(admin.execute_command("ACL", "DRYRUN", role, *command))


@pytest.mark.parametrize("role", ["worker", "scheduler"])
def test_it_should_refuse_what_neither_role_needs(session_admin: redis.Redis, role: str) -> None:
    """Asked with ACL DRYRUN: sending FLUSHALL or SHUTDOWN for real would hit the shared server."""
    allowed = {c: _dry_run(session_admin, role, *c) for c in REFUSED}
    assert not [c for c, verdict in allowed.items() if "permission" not in verdict], allowed


def test_it_should_leave_script_kill_to_the_scheduler_alone(session_admin: redis.Redis) -> None:
    """The watchdog (scheduler/watchdog.py) PINGs and sends SCRIPT KILL; no worker may."""
    for command in (("PING",), ("SCRIPT", "KILL")):
        assert _dry_run(session_admin, "scheduler", *command) == "OK", command
    assert "permission" in _dry_run(session_admin, "worker", "SCRIPT", "KILL")
    worker, scheduler = set(role_commands("worker")), set(role_commands("scheduler"))
    assert "SCRIPT|KILL" in scheduler - worker
    assert not {c for c in worker | scheduler if c.startswith("SCRIPT|")} - {
        "SCRIPT|LOAD",
        "SCRIPT|EXISTS",
        "SCRIPT|KILL",
    }


@pytest.mark.acl_denials
def test_it_should_name_a_refused_command_in_the_guard(
    role_client: Callable[[str], redis.Redis], session_admin: redis.Redis
) -> None:
    """The suite-wide guard (tests/conftest.py) sees a command the list lacks, by name."""
    session_admin.execute_command("ACL", "LOG", "RESET")
    with pytest.raises(redis.exceptions.NoPermissionError):
        role_client("worker").append(KEY, "x")
    assert [d.split(" (")[0] for d in allow_list_denials(session_admin)] == ["worker append"]
