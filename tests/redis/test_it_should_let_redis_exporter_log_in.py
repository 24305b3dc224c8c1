"""redis_exporter logs in with the password file the chart's init container writes.

Run against Debian's exporter (1.45, which looks the password up by REDIS_ADDR as
given) with the env the chart's sidecar gets. exporter-password.sh writes the
address with and without the user, so 1.70+ (which adds the user to the lookup
address, see oliver006/redis_exporter's password-file lookup) finds it as well;
a file with only the 1.70 form leaves 1.45 without a password.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from local_stack.redis_server import RedisServer, die_with_parent, free_port
from platform_spec.chart import CHART_DIR

pytestmark = pytest.mark.redis
EXPORTER = "prometheus-redis-exporter"


@pytest.fixture(scope="module")
def exporter_binary() -> str:
    """Debian's redis_exporter, installed on first use (a fresh machine has none)."""
    if shutil.which(EXPORTER) is None:
        subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y", "-q", EXPORTER],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    path = shutil.which(EXPORTER)
    assert path, f"{EXPORTER} not installed"
    return path


def _redis_up(binary: str, server: RedisServer, password_file: Path, tmp: Path) -> float:
    """redis_up as the exporter reports it (waits for its first scrape to answer)."""
    assert server.tls is not None
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "REDIS_ADDR": f"rediss://localhost:{server.port}",
        "REDIS_USER": "exporter",
        "REDIS_PASSWORD_FILE": str(password_file),
        "REDIS_EXPORTER_TLS_CA_CERT_FILE": str(server.tls.ca_cert),
        "REDIS_EXPORTER_CONFIG_COMMAND": "-",
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}",
    }
    with (tmp / "exporter.log").open("ab") as log:
        proc = subprocess.Popen(
            [binary], env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            for line in text.splitlines():
                if line.startswith("redis_up "):
                    return float(line.split()[1])
            time.sleep(0.1)
        raise AssertionError(f"no redis_up: {(tmp / 'exporter.log').read_text()[-2000:]}")
    finally:
        proc.kill()
        proc.wait(10)


def test_it_should_find_the_password_under_either_address_form(
    exporter_binary: str, private_server: RedisServer, tmp_path: Path
) -> None:
    server = private_server
    out = tmp_path / "exporter-password.json"
    subprocess.run(
        [
            "sh",
            str(CHART_DIR / "files" / "exporter-password.sh"),
            str(server.local_dir / "exporter"),  # the pod-local password, as in the pod
            f"rediss://localhost:{server.port}",
            "exporter",
            str(out),
        ],
        check=True,
    )
    assert _redis_up(exporter_binary, server, out, tmp_path) == 1.0
    # Only the 1.70+ form: 1.45 sends no password and sees Redis as down.
    only_new = tmp_path / "only-new.json"
    entries = json.loads(out.read_text())
    only_new.write_text(json.dumps({k: v for k, v in entries.items() if "exporter@" in k}))
    assert _redis_up(exporter_binary, server, only_new, tmp_path) == 0.0
