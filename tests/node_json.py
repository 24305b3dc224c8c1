"""Run a Node script of the tests that reads JSON on stdin and answers JSON on stdout
(tests/chart/crd_validators/validate.mjs, tests/dashboard/browser/drive.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any


def node_json(
    script: Path, request: Any, *, timeout: float, what: str, env: dict[str, str] | None = None
) -> Any:
    """The script's JSON answer to `request`; fails naming `what` with the script's stderr."""
    result = subprocess.run(
        [shutil.which("node") or "node", str(script)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=script.parent,
        env=env,
    )
    assert result.returncode == 0, f"{what} failed:\n{result.stderr}"
    return json.loads(result.stdout)
