"""The dashboard (dashboard/, Node) as a local process, for scripts/local and the tests.

Configured as the chart configures its pod: the spec file the workers read, the
`dashboard` ACL user with its password by file, the platform CA, and a basic-auth
password in a 0600 file (never on a command line).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from local_stack.processes import PlatformProcess, process_env
from local_stack.redis_server import RedisServer, free_port
from platform_spec.stack import REPO_ROOT

DASHBOARD_DIR = REPO_ROOT / "dashboard"
MAIN = DASHBOARD_DIR / "src" / "main.mjs"
ROLE = "dashboard"


def install_node_modules() -> None:
    """`npm ci` from the committed lock, once (bull-board, bullmq, ioredis, express)."""
    if (DASHBOARD_DIR / "node_modules" / "@bull-board" / "api").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm not found: run scripts/bootstrap (it installs nodejs and npm)")
    subprocess.run(
        [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=DASHBOARD_DIR,
        check=True,
        timeout=600,
    )


def basic_auth_password_file(state_dir: Path) -> Path:
    """The dashboard's basic-auth password (made once, 0600), as the Secret would mount it."""
    folder = state_dir / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / "password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path


def dashboard_process(
    server: RedisServer,
    spec_file: Path,
    log_dir: Path,
    *,
    password_file: Path,
    http_port: int | None = None,
) -> PlatformProcess:
    """`node dashboard/src/main.mjs` as the `dashboard` ACL user on 127.0.0.1 (not started)."""
    port = http_port or free_port()
    env = process_env(server, ROLE, spec_file, port)
    env.update(
        BULLMQ_PLATFORM_DASHBOARD_HOST="127.0.0.1",
        BULLMQ_PLATFORM_DASHBOARD_PORT=str(port),
        BULLMQ_PLATFORM_DASHBOARD_PASSWORD_FILE=str(password_file),
    )
    node = shutil.which("node") or "node"
    return PlatformProcess(
        name="dashboard",
        argv=[node, str(MAIN)],
        env=env,
        log_file=log_dir / "dashboard.log",
        http_port=port,
        grace_seconds=10.0,
    )
