"""dashboard/Containerfile builds (multi-stage, on a local bookworm base with Debian's
nodejs) and the image serves the board as the chart runs it: non-root UID 10001,
read-only root filesystem, no capabilities, secrets as mounted files."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from board import Board, wait_until
from image_support import build, container_env, ensure_local_base, run

from local_stack.dashboard import DASHBOARD_DIR
from local_stack.lifetime import die_with_parent
from local_stack.processes import PlatformProcess
from local_stack.redis_server import free_port

pytestmark = [pytest.mark.redis, pytest.mark.slow]
UID = 10001
IN_CONTAINER = {
    "spec": "/etc/bullmq-platform",
    "secrets": "/var/run/secrets/bullmq-platform",
    "auth": "/var/run/secrets/bullmq-platform-dashboard",
}


def _recipe_digest() -> str:
    files = [
        "Containerfile",
        "package.json",
        "package-lock.json",
        *sorted(str(p.relative_to(DASHBOARD_DIR)) for p in (DASHBOARD_DIR / "src").glob("*.mjs")),
    ]
    digest = hashlib.sha256()
    for name in files:
        digest.update((DASHBOARD_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="module")
def image() -> str:
    return build(
        DASHBOARD_DIR,
        f"localhost/bullmq-platform-dashboard:test-{_recipe_digest()}",
        ensure_local_base(),
    )


def test_it_should_run_as_the_chart_s_non_root_user(image: str) -> None:
    config = json.loads(run(["podman", "image", "inspect", image]).stdout)[0]["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Cmd"] == ["node", "/app/src/main.mjs"]
    listing = run(["podman", "run", "--rm", "--network", "none", image, "ls", "/app"]).stdout
    assert listing.split() == ["node_modules", "package-lock.json", "package.json", "src"]


@pytest.fixture
def mounted(read_only_board: Board, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """The spec, the Redis password and CA, and the basic-auth password, readable by UID."""
    server = read_only_board.server
    folders = {name: tmp_path / name for name in IN_CONTAINER}
    for folder in folders.values():
        folder.mkdir()
    shutil.copy(
        read_only_board.dashboard.env["BULLMQ_PLATFORM_SPEC_FILE"], folders["spec"] / "spec.json"
    )
    shutil.copy(server.state_dir / "passwords" / "dashboard", folders["secrets"] / "password")
    assert server.tls is not None
    shutil.copy(server.tls.ca_cert, folders["secrets"] / "ca.crt")
    (folders["auth"] / "password").write_text(read_only_board.password)
    for folder in folders.values():
        for path in [folder, *folder.iterdir()]:
            shutil.chown(path, UID, UID)
            path.chmod(0o500 if path.is_dir() else 0o400)
    yield folders


def test_it_should_serve_the_board_read_only_rootfs_no_capabilities(
    image: str, read_only_board: Board, mounted: dict[str, Path]
) -> None:
    port = free_port()
    name = f"dashboard-test-{uuid.uuid4().hex[:8]}"
    env = {
        "BULLMQ_PLATFORM_REDIS_HOST": "127.0.0.1",
        "BULLMQ_PLATFORM_REDIS_PORT": str(read_only_board.server.port),
        "BULLMQ_PLATFORM_REDIS_USERNAME": "dashboard",
        "BULLMQ_PLATFORM_DASHBOARD_HOST": "127.0.0.1",
        "BULLMQ_PLATFORM_DASHBOARD_PORT": str(port),
        "BULLMQ_PLATFORM_DASHBOARD_PASSWORD_FILE": f"{IN_CONTAINER['auth']}/password",
    }
    argv = [
        "podman",
        "run",
        "--rm",
        "--name",
        name,
        "--network",
        "host",
        "--read-only",
        "--cap-drop=all",
        "--security-opt",
        "no-new-privileges",
        "--user",
        f"{UID}:{UID}",
        "--tmpfs",
        "/tmp:size=64m",
    ]
    for key, folder in mounted.items():
        argv += ["-v", f"{folder}:{IN_CONTAINER[key]}:ro"]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    log = mounted["spec"].parent / "container.log"
    with log.open("wb") as out:
        # Foreground podman: SIGTERM reaches the container, --rm removes it; and podman
        # gets SIGTERM when pytest dies (die_with_parent).
        proc = subprocess.Popen(
            [*argv, image],
            env=container_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=functools.partial(die_with_parent, signal.SIGTERM),
        )
    container = PlatformProcess("dashboard container", argv, {}, log, port, proc=proc)
    try:
        wait_until(
            lambda: container.probe("/readyz", timeout=2) == 200, "the image is ready", container
        )
        base = container.url(read_only_board.spec.dashboard.base_path + "/api/queues")
        assert httpx.get(base, timeout=30).status_code == 401
        answer = httpx.get(base, auth=("oncall", read_only_board.password), timeout=30)
        assert answer.status_code == 200
        names = {q["name"] for q in answer.json()["queues"]}
        assert names == {"reports", "reports-dlq", "mail", "mail-dlq"}
        assert read_only_board.password not in log.read_text()
    finally:
        container.terminate(timeout=30)
        subprocess.run(
            ["podman", "rm", "-f", "--ignore", name],
            env=container_env(),
            capture_output=True,
            check=False,
        )
