"""Calls into tests/node/interop.mjs (Node BullMQ 6 as producer, reference worker and
observer). The connection comes from the same env vars as the Python worker; the
password is read from its file by the Node side, never passed on argv."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from local_stack.redis_server import RedisServer


def node_env(server: RedisServer) -> dict[str, str]:
    return {**server.env("worker"), "PATH": os.environ["PATH"]}


def node(node_dir: Path, server: RedisServer, *args: str, timeout: float = 60) -> Any:
    """Run one interop.mjs command to its end; its stdout parsed as JSON."""
    done = subprocess.run(
        ["node", "interop.mjs", *args],
        cwd=node_dir,
        env=node_env(server),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
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
