"""The fast engine's pipelined connection on a real cluster (workers/_fast_cluster.py).

It finds the primary that owns the queue's slot, follows MOVED when it talks to
another node, and during a slot migration (CLUSTER SETSLOT MIGRATING/IMPORTING
set by hand, as `redis-cli --cluster reshard` does) follows ASK with ASKING on
the target, a script sent there as EVAL. The slot is put back stable after.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cluster_support import queue_names, settings_for, spec_for

from local_stack.redis_cluster import RedisClusterStack, key_slot
from workers._fast_cluster import SlotPipelinedRedis
from workers.connection import bullmq_connection

pytestmark = [pytest.mark.redis]


def test_it_should_follow_moved_and_ask_to_the_slot_owner(
    redis_cluster: RedisClusterStack, tmp_path: Path
) -> None:
    (name,) = queue_names(1)
    keys = spec_for([name]).queue_keys(name)
    owner = redis_cluster.primary_of(keys.wait)
    other = next(p for p in redis_cluster.primaries if p.port != owner.port)
    slot = key_slot(keys.wait)
    script = tmp_path / "push.lua"
    script.write_text("return redis.call('LPUSH', KEYS[1], ARGV[1])")

    def stable(slot: int) -> None:
        with owner.admin(socket_timeout=5) as a, other.admin(socket_timeout=5) as b:
            for node in (a, b):
                node.execute_command("CLUSTER SETSLOT", slot, "STABLE")

    async def scenario() -> None:
        conn = SlotPipelinedRedis(
            bullmq_connection(settings_for(redis_cluster)), keys.wait, flush_mode="tick"
        )
        assert await conn.resolve() == ("127.0.0.1", owner.port)
        conn._moved_to = ("127.0.0.1", other.port)  # start on the wrong node
        await conn.connect()
        await conn.load_script("push", script)
        try:
            assert conn.address == ("127.0.0.1", other.port)
            assert await conn.execute("RPUSH", keys.wait, "a") == 1
            assert conn.address == ("127.0.0.1", owner.port)
            assert conn.redirects["MOVED"] == 1

            with owner.admin(socket_timeout=5) as a, other.admin(socket_timeout=5) as b:
                b.execute_command(
                    "CLUSTER SETSLOT", slot, "IMPORTING", redis_cluster.node_id(owner)
                )
                a.execute_command(
                    "CLUSTER SETSLOT", slot, "MIGRATING", redis_cluster.node_id(other)
                )
            try:
                # A key the source no longer holds: ASK, then ASKING + the command on the target.
                assert await conn.execute("LPUSH", keys.delayed, "x") == 1
                assert await conn.evalsha("push", [keys.delayed], ["y"]) == 2  # EVAL there
                assert conn.redirects["ASK"] == 2
                assert await conn.execute("DEL", keys.delayed) == 1  # clean the target
                assert await conn.execute("LLEN", keys.wait) == 1  # still on the source
                # Two keys neither node holds: ASK from the source, then TRYAGAIN from the
                # target (a multi-key call mid-migration). It is retried, from the source,
                # until the migration ends; then the source runs it.
                pending = asyncio.ensure_future(
                    conn.evalsha("push", [keys.prioritized, keys.active], ["z"])
                )
                while conn.redirects["TRYAGAIN"] == 0 and not pending.done():
                    await asyncio.sleep(0.01)
                stable(slot)
                assert await pending == 1
                assert await conn.execute("DEL", keys.prioritized) == 1
            finally:
                stable(slot)
        finally:
            await conn.close()

    asyncio.run(scenario())
