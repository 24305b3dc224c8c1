"""The Redis commands BullMQ's Lua scripts call, read from the installed bullmq.

Redis 7 checks every command a script calls against the caller's ACL, so the
`worker` and `scheduler` users must be allowed each of them on the key prefix
(helm/bullmq-platform/templates/redis/_config.tpl). This reads them from the
scripts themselves (`rcall("ZADD", ...)`, `redis.call`/`redis.pcall`), plus
the ones a script picks at run time (`paginate`: SSCAN or HSCAN, SCARD or
HLEN; `pushCmd`: LPUSH or RPUSH), so tests/redis/test_acl_roles.py can prove
the ACL allows all of them and a bullmq upgrade that needs a new command fails
there, not in production (issue 25, item 2).
"""

from __future__ import annotations

import re
from importlib import resources

from bullmq.redis_connection import SCRIPT_DEFINITIONS

CALL = re.compile(r"""(?:rcall|redis\.p?call)\(\s*["']([A-Za-z]+)["']""")
# Commands a script holds in a variable (`rcall(command, ...)`): never literal above.
CHOSEN_AT_RUN_TIME = frozenset({"SSCAN", "HSCAN", "SCARD", "HLEN", "LPUSH", "RPUSH"})


def bullmq_script_commands() -> frozenset[str]:
    """Upper-case names of every command the scripts the installed bullmq loads call.

    Only the scripts of `SCRIPT_DEFINITIONS` (what bullmq's RedisConnection
    registers): the package also ships `relay*` scripts nothing in it loads.
    """
    found: set[str] = set(CHOSEN_AT_RUN_TIME)
    folder = resources.files("bullmq") / "commands"
    for file_name in SCRIPT_DEFINITIONS.values():
        text = (folder / file_name).read_text()
        found.update(name.upper() for name in CALL.findall(text))
    return frozenset(found)
