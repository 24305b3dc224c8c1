"""What the local dashboard process needs: its npm packages and its basic-auth password.

The process itself (`dashboard_process` in local_stack/processes.py) is configured
as the chart configures its pod: the spec file the workers read, the `dashboard`
ACL user with its password by file, the platform CA, and the basic-auth password
in a 0600 file (never on a command line).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from local_stack.npm import npm_ci
from platform_spec.stack import REPO_ROOT

DASHBOARD_DIR = REPO_ROOT / "dashboard"
MAIN = DASHBOARD_DIR / "src" / "main.mjs"


def install_node_modules() -> None:
    """`npm ci` from the committed lock, once (bull-board, bullmq, ioredis, express)."""
    npm_ci(DASHBOARD_DIR, "@bull-board/api", "--omit=dev")


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
