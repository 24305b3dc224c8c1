"""The real redis_exporter, configured exactly as the chart configures Redis's sidecar.

The container's env is taken from the rendered StatefulSet (`helm template`):
the TLS address, the `exporter` ACL user, the CONFIG switch, the key checks the
queue alerts read. Only what a laptop differs in is remapped: the address's
port, the certificate paths and the listen address. The password file is made
by the chart's own `exporter-password.sh`, so no password is ever in env or argv.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from local_stack.redis_server import RedisServer, free_port
from monitoring.binaries import binary
from monitoring.child import spawn, stop, wait_until
from platform_spec import chart
from platform_spec.values import chart_values

STATEFULSET = "templates/redis/statefulset.yaml"
EXPORTER_CONTAINER = "exporter"


def sidecar_env(values: dict[str, Any]) -> dict[str, str]:
    """The exporter container's env (name -> value) as the chart renders it."""
    (sts,) = chart.objects(chart.template(values, show_only=STATEFULSET))
    (container,) = [
        c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == EXPORTER_CONTAINER
    ]
    return {e["name"]: str(e["value"]) for e in container["env"]}


@dataclass
class RedisExporter:
    """`prometheus-redis-exporter` for `server`, on its own 127.0.0.1 port."""

    server: RedisServer
    state_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def configure(self) -> dict[str, str]:
        """The chart's sidecar env with local paths; writes the password file."""
        assert self.server.tls is not None
        values = chart_values(
            self.server.spec, auth_secret="local", tls_secret="local", dashboard_secret="local"
        )
        env = sidecar_env(values)
        self.port = self.port or free_port()
        chart_addr = env["REDIS_ADDR"]
        scheme, _, host_port = chart_addr.partition("://")
        host = host_port.rsplit(":", 1)[0]  # localhost: a name the server certificate holds
        env["REDIS_ADDR"] = f"{scheme}://{host}:{self.server.port}"
        tls = self.server.tls
        local_files = {"ca.crt": tls.ca_cert, "tls.crt": tls.client_cert, "tls.key": tls.client_key}
        for name, value in env.items():
            if name.startswith("REDIS_EXPORTER_TLS_") and name.endswith("_FILE"):
                env[name] = str(local_files[Path(value).name])
        if "REDIS_PASSWORD_FILE" in env:
            env["REDIS_PASSWORD_FILE"] = str(self._password_file(env["REDIS_ADDR"]))
        env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = f"127.0.0.1:{self.port}"
        return env

    def _password_file(self, addr: str) -> Path:
        """Run the chart's exporter-password.sh on the exporter's password file."""
        script = self.server.state_dir / "conf" / "exporter-password.sh"
        out = self.state_dir / "exporter-password.json"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            # as the chart's init container: the pod-local password, the exporter user
            ["sh", str(script), str(self.server.local_dir / "exporter"), addr, "exporter", out],
            check=True,
            capture_output=True,
        )
        return out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "redis-exporter.log"

    def start(self, timeout: float = 30.0) -> RedisExporter:
        self.env = self.configure()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
        self.process = spawn([binary("prometheus-redis-exporter")], env | self.env, self.log_file)
        wait_until(
            "redis_exporter",
            lambda: httpx.get(self.url, timeout=2).status_code == 200,
            timeout,
            self.process,
        )
        return self

    def stop(self) -> None:
        stop(self.process)
