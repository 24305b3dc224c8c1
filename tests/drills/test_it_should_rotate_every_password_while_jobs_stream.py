"""Drill: rotate every Redis user's password while jobs stream (README "Rotating passwords").

The steps are the chart's, on real processes: a TLS + ACL redis-server with the
chart's redis-reloader.sh beside it (as in the pod), two `python -m workers`
processes and a producer that keeps enqueueing. The password files are changed
the way the kubelet changes a mounted Secret (in place, atomically):

1. overlap: each user's new password becomes current, the old one moves to
   `previous/`; the reloader applies both with ACL SETUSER (no restart, no
   client dropped); the workers roll onto the new password (a rollout);
2. cut-over: `previous/` is emptied; Redis refuses the old passwords; every
   worker connection is then killed, and the running workers and the producer
   reconnect by re-reading the password file.

Figures: jobs streamed, completed, failed, lost, duplicated, Redis restarts.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import threading
import time
from pathlib import Path

import pytest
import redis
from bullmq import Queue as BullQueue
from drill_support import Figures, counts, drained, drill_spec, runs, stop, wait_until, workers
from redis.backoff import NoBackoff
from redis.retry import Retry

from local_stack.processes import stop_all
from local_stack.redis_server import ROLES, RedisServer
from platform_spec.settings import RedisSettings

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
BATCH = 10
MAX_JOBS = 12_000  # bound (about 60 s of stream): the producer stops here whatever happens
JOB_SECONDS = 0.005


def write_like_the_kubelet(path: Path, text: str) -> None:
    """Replace a mounted Secret file in one step (the kubelet swaps a symlink)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text)
    tmp.chmod(0o600)
    os.replace(tmp, path)


def accepts(server: RedisServer, role: str, password: str) -> bool:
    """A fresh connection as `role` with `password`: True if Redis lets it in."""
    kwargs = {**server.connection_kwargs(role), "password": password}
    # No retries: redis-py retries a refused AUTH (a ConnectionError) with backoff.
    client = redis.Redis(**kwargs, socket_timeout=5, retry=Retry(NoBackoff(), 0))
    try:
        return bool(client.ping())
    except redis.exceptions.AuthenticationError:
        return False
    finally:
        client.close()


class Producer(threading.Thread):
    """Enqueues `work` jobs in batches until stopped, logging in from the password file."""

    def __init__(self, server: RedisServer, queue: str) -> None:
        super().__init__(daemon=True)
        assert server.tls is not None
        self.settings = RedisSettings(
            host="127.0.0.1",
            port=server.port,
            username="worker",
            password_file=server.password_dir / "worker",
            ca_file=server.tls.ca_cert,
        )
        self.queue = queue
        self.sent = 0
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        asyncio.run(self._produce())

    async def _produce(self) -> None:
        producer = BullQueue(
            self.queue, {"connection": self.settings.redis_kwargs(), "prefix": "bull"}
        )
        try:
            while not self.halt.is_set() and self.sent < MAX_JOBS:
                batch = [
                    {"name": "work", "data": {"seconds": JOB_SECONDS}, "opts": {"jobId": f"j{n}"}}
                    for n in range(self.sent, self.sent + BATCH)
                ]
                try:
                    await producer.addBulk(batch)
                except redis.exceptions.RedisError as exc:  # counted: the drill asserts none
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.05)
                    continue
                self.sent += BATCH
                await asyncio.sleep(0.05)
        finally:
            await producer.close()


def log_tails(procs: list, lines: int = 15) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.log_file.read_text().splitlines()[-lines:]) for p in procs
    )


def roll(procs: list) -> None:
    """A rollout: each worker drains on SIGTERM and its replacement starts (new password)."""
    for proc in procs:
        proc.signal(signal.SIGTERM)
        assert proc.wait(proc.grace_seconds) == 0, f"{proc.name} did not drain cleanly"
        proc.start()
        assert wait_until(lambda p=proc: p.probe("/readyz") == 200, timeout=60), proc.name


def test_it_should_rotate_every_password_with_no_failed_job_and_no_restart(
    private_redis, queue_name: str, tmp_path: Path
) -> None:
    server: RedisServer = private_redis()
    server.start_reloader(interval_seconds=1)
    assert server.process is not None
    redis_pid = server.process.pid
    old = dict(server.passwords)
    # every ACL user this Redis has (the dashboard's only when the spec enables it)
    roles = [r for r in ROLES if r != "dashboard" or server.spec.dashboard.enabled]
    new = {role: secrets.token_urlsafe(24) for role in roles}
    admin = redis.Redis(**server.connection_kwargs("admin"), decode_responses=True)
    run_id = admin.info("server")["run_id"]
    spec = drill_spec(queue_name, concurrency=4)
    procs = workers(server, spec, tmp_path, 2)
    producer = Producer(server, queue_name)
    started = time.monotonic()

    def completed() -> int:
        return counts(admin, queue_name)["completed"]

    try:
        assert all(wait_until(lambda p=p: p.probe("/readyz") == 200, 60) for p in procs)
        producer.start()
        assert wait_until(lambda: completed() >= 100, timeout=60), "no stream before rotation"

        # Step 1: new passwords current, old ones kept as previous.
        for role in roles:
            write_like_the_kubelet(server.password_dir / "previous" / role, old[role])
            write_like_the_kubelet(server.password_dir / role, new[role])
        changed = time.monotonic()
        assert wait_until(lambda: all(accepts(server, r, new[r]) for r in roles), timeout=30), (
            server.reloader_log()
        )
        reload_seconds = time.monotonic() - changed
        overlap = all(accepts(server, r, old[r]) for r in roles)
        admin.close()
        admin = redis.Redis(
            **{**server.connection_kwargs("admin"), "password": new["admin"]},
            decode_responses=True,
        )
        roll(procs[:1])  # one pod of the rollout: it logs in with the new password at start
        at_roll = completed()
        assert wait_until(lambda: completed() >= at_roll + 100, timeout=60), "stalled after roll"

        # Step 2: previous passwords removed; Redis must refuse them.
        for role in roles:
            (server.password_dir / "previous" / role).unlink()
        assert wait_until(lambda: not any(accepts(server, r, old[r]) for r in roles), timeout=30), (
            server.reloader_log()
        )
        # Every connection of the running workers and the producer drops; they log in again
        # with the password file's content, or the stream stops here.
        killed = int(admin.execute_command("CLIENT", "KILL", "USER", "worker"))
        at_kill = completed()
        assert wait_until(lambda: completed() >= at_kill + 100, timeout=60), (
            f"no reconnect: {producer.errors[-3:]}\n{log_tails(procs)}"
        )
        producer.halt.set()
        producer.join(30)
        finished = wait_until(drained(admin, queue_name, producer.sent), timeout=120, pause=0.25)
        exit_codes = list(stop_all(procs).values())
        seen = runs(admin, queue_name)
        final = counts(admin, queue_name)
        same_redis = admin.info("server")["run_id"] == run_id
    finally:
        producer.halt.set()
        stop(procs)
        admin.close()
    refused_at_end = [r for r in roles if not accepts(server, r, old[r])]
    figures = Figures(
        "password rotation (every ACL user, jobs streaming)",
        sent=producer.sent,
        completed=len(seen.done),
        duplicated=seen.duplicated,
        lost=producer.sent - len(seen.done),
        extra={
            "failed": final["failed"],
            "producer_errors": len(producer.errors),
            "redis_restarts": 0 if same_redis and server.process.pid == redis_pid else 1,
            "reload_seconds": round(reload_seconds, 1),
            "old_and_new_accepted_during_overlap": overlap,
            "worker_connections_killed": killed,
            "old_refused_at_end": f"{len(refused_at_end)}/{len(roles)}",
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    figures.check()
    assert finished, final
    assert final["failed"] == 0 and final["completed"] == producer.sent, final
    assert not producer.errors, producer.errors[:3]
    assert same_redis and server.process.poll() is None and server.process.pid == redis_pid
    assert overlap, "an old password was refused during the overlap"
    assert refused_at_end == roles
    assert killed >= 2, "the drill must drop live worker connections to prove the re-read"
    assert all(code == 0 for code in exit_codes), exit_codes
