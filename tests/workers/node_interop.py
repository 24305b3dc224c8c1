"""Calls into tests/node/interop.mjs (Node BullMQ 6 as producer, reference worker and
observer). The connection comes from the same env vars as the Python worker; the
password is read from its file by the Node side, never passed on argv."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local_stack.lifetime import die_with_parent
from local_stack.redis_server import RedisServer

# interop.mjs commands that only observe Redis for a test: they log in as admin, since
# the worker's ACL holds only what the platform sends (XRANGE, for one, is not on it).
OBSERVING = frozenset({"read", "events", "delays", "logs"})


def node_env(server: RedisServer, command: str = "add") -> dict[str, str]:
    """Env of one interop.mjs run: a producer or a worker as `worker`, an observer as admin."""
    role = "admin" if command in OBSERVING else "worker"
    return {**server.env(role), "PATH": os.environ["PATH"]}


def node(node_dir: Path, server: RedisServer, *args: str, timeout: float = 60) -> Any:
    """Run one interop.mjs command to its end; its stdout parsed as JSON."""
    done = subprocess.run(
        ["node", "interop.mjs", *args],
        cwd=node_dir,
        env=node_env(server, args[0]),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=die_with_parent,
    )
    assert done.returncode == 0, f"node {' '.join(args[:2])} failed: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def node_add(
    node_dir: Path, server: RedisServer, queue: str, name: str, data: Any, opts: dict[str, Any]
) -> str:
    """Add one job as a Node producer would; its id."""
    return str(node(node_dir, server, "add", queue, name, json.dumps(data), json.dumps(opts)))


def node_add_many(
    node_dir: Path, server: RedisServer, queue: str, jobs: list[tuple[str, Any, dict[str, Any]]]
) -> list[str]:
    """Add several jobs in one Node process (each Node start costs about a second)."""
    args = [
        part for name, data, opts in jobs for part in (name, json.dumps(data), json.dumps(opts))
    ]
    return [str(i) for i in node(node_dir, server, "add", queue, *args)]


@contextlib.contextmanager
def node_events(
    node_dir: Path, server: RedisServer, queue: str, count: int, timeout_ms: int = 30_000
) -> Iterator[list[dict[str, Any]]]:
    """A Node QueueEvents listening on `queue` while the block runs; the list it yields
    holds the events (completed, failed, progress, delayed, ...) once the block has
    ended and `count` of them arrived (or `timeout_ms` passed)."""
    listener = subprocess.Popen(
        ["node", "interop.mjs", "events", queue, str(count), str(timeout_ms)],
        cwd=node_dir,
        env=node_env(server, "events"),
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    events: list[dict[str, Any]] = []
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        yield events
        out, _ = listener.communicate(timeout=timeout_ms / 1000 + 10)
        events.extend(json.loads(line) for line in out.splitlines() if line.startswith("{"))
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(10)
