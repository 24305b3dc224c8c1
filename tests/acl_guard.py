"""What the suite-wide ACL guard reads (tests/conftest.py, `no_acl_denials`)."""

from __future__ import annotations

import redis

# ACL users whose commands are an exact allow-list (platform_spec/acl_commands.py).
ALLOW_LISTED = ("worker", "scheduler")


def allow_list_denials(admin: redis.Redis) -> list[str]:
    """`user command (context, xcount)` of each ACL LOG entry where worker or scheduler
    was refused a command (key and auth refusals are other tests' business)."""
    return [
        f"{entry['username']} {entry['object']} ({entry['context']}, x{entry['count']})"
        for entry in admin.acl_log()
        if entry["reason"] == "command" and entry["username"] in ALLOW_LISTED
    ]
