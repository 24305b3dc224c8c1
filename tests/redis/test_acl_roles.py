"""Each ACL role of the chart does its real work and is refused what it must not do.

The fixture's redis-server runs the chart's rendered ACL rules (assembled by the
chart's own script), so these tests exercise exactly what a pod gets.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from bullmq import Queue, Worker
from keda_eval import LIST_LENGTH_SCRIPT

from local_stack.redis_server import RedisServer, local_spec, render_redis_files
from platform_spec.acl_commands import bullmq_script_commands
from platform_spec.keys import QueueKeys

pytestmark = pytest.mark.redis
OUTSIDE_KEY = "not-the-platform:key"
DANGEROUS = [
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "GET", "maxmemory"),
    ("KEYS", "*"),
    ("SCAN", "0"),  # lists key names of every prefix: ACL key patterns do not filter it
    ("DEBUG", "SLEEP", "0"),
    ("SHUTDOWN", "NOSAVE"),
    ("SCRIPT", "FLUSH"),
    ("FUNCTION", "FLUSH"),
    ("MONITOR",),
]
ROLES = ("worker", "scheduler", "keda", "exporter")


@pytest.fixture
def clients(role_client: Callable[[str], redis.Redis]) -> dict[str, redis.Redis]:
    return {role: role_client(role) for role in (*ROLES, "admin")}


def test_it_should_let_the_worker_process_a_job(redis_server: RedisServer, queue_name: str) -> None:
    conn = redis_server.connection_kwargs("worker")
    done: dict[str, Any] = {}

    async def scenario() -> None:
        finished = asyncio.Event()

        async def handle(job: Any, token: str) -> str:
            done["data"] = job.data
            finished.set()
            return "ok"

        queue = Queue(queue_name, {"connection": conn})
        worker = Worker(queue_name, handle, {"connection": conn})
        try:
            job = await queue.add("ping", {"n": 1})
            await asyncio.wait_for(finished.wait(), timeout=20)
            for _ in range(100):  # bounded: the completion lands just after the handler
                if await queue.getJobState(job.id) == "completed":
                    break
                await asyncio.sleep(0.05)
            done["state"] = await queue.getJobState(job.id)
        finally:
            # force: bullmq 3.4.4 close() can hang on an idle fetch (docs/throughput.md)
            await worker.close(force=True)
            await queue.obliterate(force=True)
            await queue.close()

    asyncio.run(scenario())
    assert done == {"data": {"n": 1}, "state": "completed"}


def test_it_should_let_the_scheduler_upsert_a_job_scheduler(
    redis_server: RedisServer, queue_name: str
) -> None:
    conn = redis_server.connection_kwargs("scheduler")
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        queue = Queue(queue_name, {"connection": conn})
        try:
            await queue.upsertJobScheduler("tick", {"every": 60_000}, "health-check", {})
            seen["ids"] = [s["key"] for s in await queue.getJobSchedulers()]
            seen["next jobs"] = await queue.getJobCountByTypes("delayed", "wait", "prioritized")
        finally:
            await queue.obliterate(force=True)
            await queue.close()

    asyncio.run(scenario())
    assert seen == {"ids": ["tick"], "next jobs": 1}


def test_it_should_let_keda_run_its_length_script_read_only(
    clients: dict[str, redis.Redis], queue_name: str
) -> None:
    keys = QueueKeys("bull", queue_name)
    clients["worker"].rpush(keys.wait, "1", "2")
    clients["worker"].zadd(keys.prioritized, {"3": 1})
    try:
        keda = clients["keda"]
        assert keda.eval(LIST_LENGTH_SCRIPT, 1, keys.wait) == 2
        assert keda.eval(LIST_LENGTH_SCRIPT, 1, keys.prioritized) == 1
        with pytest.raises(
            redis.exceptions.ResponseError, match=r"(?i)permission|noperm|can't run"
        ):
            keda.eval("return redis.call('del', KEYS[1])", 1, keys.wait)
        with pytest.raises(redis.exceptions.NoPermissionError):
            keda.lpush(keys.wait, "x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            keda.eval(LIST_LENGTH_SCRIPT, 1, OUTSIDE_KEY)
    finally:
        clients["worker"].delete(keys.wait, keys.prioritized)


def test_it_should_let_the_exporter_read_info_and_key_sizes_only(
    clients: dict[str, redis.Redis], queue_name: str
) -> None:
    keys = QueueKeys("bull", queue_name)
    clients["worker"].rpush(keys.wait, "1")
    try:
        exporter = clients["exporter"]
        assert exporter.info("memory")["maxmemory_policy"] == "noeviction"
        assert exporter.llen(keys.wait) == 1
        with pytest.raises(redis.exceptions.NoPermissionError):
            exporter.lpop(keys.wait)
        with pytest.raises(redis.exceptions.NoPermissionError):
            exporter.get(keys.wait)
    finally:
        clients["worker"].delete(keys.wait)


@pytest.mark.parametrize("role", ("worker", "scheduler"))
def test_it_should_keep_bullmq_roles_inside_the_key_prefix(
    clients: dict[str, redis.Redis], role: str
) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        clients[role].set(OUTSIDE_KEY, "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        clients[role].get(OUTSIDE_KEY)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", DANGEROUS, ids=[" ".join(c) for c in DANGEROUS])
def test_it_should_refuse_dangerous_commands_to_every_role_but_admin(
    clients: dict[str, redis.Redis], role: str, command: tuple[str, ...]
) -> None:
    """Asked with ACL DRYRUN: running SHUTDOWN or FLUSHALL for real would hit the shared server."""
    verdict = clients["admin"].execute_command("ACL", "DRYRUN", role, *command)
    assert verdict != "OK" and "permission" in verdict
    assert clients["admin"].execute_command("ACL", "DRYRUN", "admin", *command) == "OK"


@pytest.mark.acl_denials
def test_it_should_refuse_flushall_when_really_sent(clients: dict[str, redis.Redis]) -> None:
    for role in ROLES:
        with pytest.raises(redis.exceptions.NoPermissionError):
            clients[role].flushall()


def test_it_should_let_admin_configure_and_keep_default_off(
    clients: dict[str, redis.Redis], redis_server: RedisServer
) -> None:
    assert clients["admin"].config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    kwargs = {**redis_server.connection_kwargs("worker"), "username": None, "password": None}
    anonymous = redis.Redis(**kwargs)
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            anonymous.ping()
    finally:
        anonymous.close()


# Writes that grow one value past any request size; BullMQ never sends them (issue 25).
BIG_WRITES = [
    ("SETRANGE", "bull:x", "209715200", "x"),
    ("APPEND", "bull:x", "x"),
    ("SETBIT", "bull:x", "1677721600", "1"),
    ("BITFIELD", "bull:x", "SET", "u8", "1677721600", "1"),
    ("SORT", "bull:x", "STORE", "bull:y"),
    ("COPY", "bull:x", "bull:y"),
]


@pytest.mark.parametrize("role", ("worker", "scheduler"))
@pytest.mark.parametrize("command", BIG_WRITES, ids=[c[0] for c in BIG_WRITES])
def test_it_should_refuse_unbounded_writes_to_bullmq_roles(
    clients: dict[str, redis.Redis], role: str, command: tuple[str, ...]
) -> None:
    verdict = clients["admin"].execute_command("ACL", "DRYRUN", role, *command)
    assert verdict != "OK" and "permission" in verdict, verdict


@pytest.mark.acl_denials
def test_it_should_not_grow_redis_by_one_setrange(clients: dict[str, redis.Redis]) -> None:
    """The measured attack: SETRANGE at 200 MB as `worker` (before: Redis at 225 MB)."""
    before = int(clients["admin"].info("memory")["used_memory"])
    try:
        with pytest.raises(redis.exceptions.NoPermissionError):
            clients["worker"].setrange("bull:setrange-attack", 209_715_200, "x")
        after = int(clients["admin"].info("memory")["used_memory"])
    finally:  # had the attack succeeded, give the shared server its memory back
        clients["admin"].unlink("bull:setrange-attack")
    print(f"used_memory before {before}, after a refused SETRANGE {after}")
    assert after - before < 1_000_000


def test_it_should_leave_keda_no_eval_in_metrics_api_mode(clients: dict[str, redis.Redis]) -> None:
    """metricsApi (the default): KEDA reads the scheduler, so its Redis user cannot EVAL.

    The rules are the chart's own, loaded into the running server under a
    throw-away user name and asked with ACL DRYRUN.
    """
    rules = render_redis_files(local_spec())["acl.rules"]
    (keda,) = [line for line in rules.splitlines() if line.startswith("keda ")]
    admin = clients["admin"]
    user = f"keda-check-{uuid.uuid4().hex[:8]}"
    admin.execute_command("ACL", "SETUSER", user, "reset", "on", "nopass", *keda.split()[1:])
    try:
        for command in (("EVAL", "while true do end", "0"), ("EVALSHA", "0" * 40, "0")):
            verdict = admin.execute_command("ACL", "DRYRUN", user, *command)
            assert verdict != "OK" and "permission" in verdict, (command, verdict)
        assert admin.execute_command("ACL", "DRYRUN", user, "PING") == "OK"
    finally:
        admin.execute_command("ACL", "DELUSER", user)


def test_it_should_bound_one_write_by_the_largest_payload(
    clients: dict[str, redis.Redis], redis_server: RedisServer
) -> None:
    """proto-max-bulk-len comes from the spec's maxPayloadBytes (2x + 64 KiB, >= 1 MiB)."""
    largest = max(q.max_payload_bytes for q in redis_server.spec.queues)
    bound = max(1 << 20, 2 * largest + 65536)
    admin = clients["admin"]
    assert admin.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": str(bound)}
    before = int(admin.info("memory")["used_memory"])
    try:
        with pytest.raises(redis.exceptions.RedisError, match=r"(?i)bulk|closed|reset|protocol"):
            clients["worker"].set("bull:too-big-write", "x" * (bound + 1))
        after = int(admin.info("memory")["used_memory"])
        assert clients["worker"].set("bull:too-big-write", "x" * 1000)  # a normal write works
    finally:
        admin.unlink("bull:too-big-write")
    print(f"proto-max-bulk-len {bound}: a {bound + 1}-byte write refused, memory +{after - before}")
    assert after - before < bound


def _dry_args(admin: redis.Redis, command: str, key: str) -> list[str]:
    """Arguments that satisfy the command's arity, every one a key of the prefix."""
    if command == "XREAD":  # its keys follow STREAMS
        return ["STREAMS", key, "0"]
    info = admin.execute_command("COMMAND", "INFO", command)  # redis-py: {name: {...}}
    arity = abs(int(info[command.lower()]["arity"]))  # negative arity: at least that many
    return [key] * (arity - 1)


@pytest.mark.parametrize("role", ["worker", "scheduler"])
def test_it_should_allow_every_command_bullmqs_scripts_call(
    clients: dict[str, redis.Redis], role: str
) -> None:
    """Redis 7 checks each command a Lua script calls against the caller's ACL (issue 25):
    every command of the installed bullmq's scripts must pass for the roles that run
    them (platform_spec/acl_commands.py puts all of them on both allow-lists)."""
    admin = clients["admin"]
    key = QueueKeys("bull", "acl-dryrun").wait
    refused = {}
    for command in sorted(bullmq_script_commands()):
        verdict = admin.execute_command(
            "ACL", "DRYRUN", role, command, *_dry_args(admin, command, key)
        )
        if verdict != "OK":
            refused[command] = verdict
    assert not refused, refused
    assert len(bullmq_script_commands()) > 40  # the scan found the scripts
