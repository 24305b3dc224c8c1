"""Run the platform's Redis locally, configured by the chart itself.

The chart renders redis.conf, the ACL rules and the ACL assembly script (its
ConfigMap `<name>-redis-config`). This module renders that ConfigMap with the
real helm, writes the files to a state directory, assembles the ACL file with
the chart's own script, and starts `redis-server` on a config that includes the
chart's redis.conf and overrides only what differs on a laptop: bind address,
port, and the paths of data, certificates and the ACL file. Passwords live in
0600 files; nothing secret is passed on a command line.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.certs import TlsFiles, generate_tls
from local_stack.lifetime import die_with_parent
from platform_spec import chart
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values

ROLES = ("worker", "scheduler", "keda", "exporter", "admin", "dashboard")
# Users only `redis.mode: sentinel` has: replicas and Sentinels log in as them.
SENTINEL_MODE_ROLES = ("replication", "sentinel")
# Users with a pod-local password (the chart's init container makes them too).
LOCAL_USERS = ("exporter", "reloader")
CONFIGMAP = "templates/redis/configmap.yaml"


# Listening ports are picked below the kernel's ephemeral range: a port from that range
# (bind to port 0) can be taken as the source port of an outgoing connection between the
# pick and the server's own bind ("address already in use", seen in a drill). Picks
# handed out by this process are not handed out again.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_LISTEN_PORT = 20000
_handed_out: set[int] = set()


# Processes picking ports at the same time (the test suite's parallel workers) each take
# their own slice, "<index>/<count>" of the range, so two never pick the same port between
# a pick and its bind. tests/conftest.py sets it per pytest-xdist worker.
PORT_SLICE_ENV = "LOCAL_STACK_PORT_SLICE"


def _listen_port_range() -> range:
    try:
        ephemeral_low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    whole = range(LOWEST_LISTEN_PORT, max(ephemeral_low, LOWEST_LISTEN_PORT + 1000))
    index, _, count = os.environ.get(PORT_SLICE_ENV, "0/1").partition("/")
    size = len(whole) // int(count)
    start = whole.start + int(index) * size
    return range(start, start + size)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, outside the ephemeral range."""
    candidates = _listen_port_range()
    for _ in range(200):
        port = random.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # all taken: any port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_spec(**overrides: Any) -> PlatformSpec:
    """A dev spec with TLS, auth and persistence on: what the tests and local stack run."""
    data: dict[str, Any] = {
        "environment": "dev",
        "redis": {"auth": {"adminEnabled": True}},
    }
    data.update(overrides)
    return PlatformSpec.model_validate(data)


def render_redis_files(spec: PlatformSpec, helm: str | None = None) -> dict[str, str]:
    """redis.conf, acl.rules and assemble-acl.sh exactly as the chart renders them."""
    values = chart_values(
        spec,
        auth_secret="local-redis-auth",
        tls_secret="local-redis-tls",
        dashboard_secret="local-dashboard-auth",
    )
    rendered = chart.template(values, show_only=CONFIGMAP, helm=helm)
    (configmap,) = chart.objects(rendered)
    return dict(configmap["data"])


@dataclass
class RedisServer:
    """A TLS-only, ACL-protected redis-server in `state_dir`, on an ephemeral port."""

    state_dir: Path
    spec: PlatformSpec = field(default_factory=local_spec)
    port: int = 0
    executable: str = "redis-server"
    process: subprocess.Popen[bytes] | None = None
    passwords: dict[str, str] = field(default_factory=dict, repr=False)  # never in repr
    tls: TlsFiles | None = None
    reloader: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """Render config, make certificates and passwords, assemble the ACL file."""
        if shutil.which(self.executable) is None:
            raise FileNotFoundError(
                f"{self.executable} not found: run scripts/bootstrap (it installs redis-server)"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        files = render_redis_files(self.spec)
        conf_dir = self.state_dir / "conf"
        conf_dir.mkdir(exist_ok=True)
        for name, text in files.items():
            (conf_dir / name).write_text(text)
        # Nodes of a local Redis Cluster share one CA and certificate (given before).
        self.tls = self.tls or generate_tls(self.state_dir / "tls")
        self._write_passwords()
        subprocess.run(
            ["sh", str(conf_dir / "local-passwords.sh"), str(self.local_dir), *LOCAL_USERS],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "sh",
                str(conf_dir / "assemble-acl.sh"),
                str(conf_dir / "acl.rules"),
                str(self.password_dir),
                str(self.local_dir),
                str(self.acl_file),
            ],
            check=True,
            capture_output=True,
        )
        if not self.port:
            self.port = free_port()
        (self.state_dir / "data").mkdir(exist_ok=True)
        self.config_file.write_text(self._local_overrides(conf_dir / "redis.conf"))
        self.config_file.chmod(0o600)

    @property
    def password_dir(self) -> Path:
        """One file per ACL user; `previous/<user>` during a rotation (the Secret's layout)."""
        return self.state_dir / "passwords"

    @property
    def local_dir(self) -> Path:
        return self.state_dir / "local"

    @property
    def acl_file(self) -> Path:
        return self.state_dir / "users.acl"

    def _write_passwords(self) -> None:
        pw_dir = self.password_dir
        pw_dir.mkdir(exist_ok=True)
        pw_dir.chmod(0o700)
        roles = ROLES + (SENTINEL_MODE_ROLES if self.spec.redis.mode == "sentinel" else ())
        for role in roles:
            path = pw_dir / role
            if not path.exists():
                path.write_text(secrets.token_urlsafe(24))
                path.chmod(0o600)
            self.passwords[role] = path.read_text().strip()

    def _local_overrides(self, chart_conf: Path) -> str:
        assert self.tls is not None
        redis = self.spec.redis
        lines = [
            "# Local overrides of the chart's redis.conf: paths, bind and port only.",
            "# Data goes to the working directory (`dir ./`): redis-server starts in data/.",
            f"include {chart_conf}",
            "bind 127.0.0.1",
            f"logfile {self.state_dir / 'redis.log'}",
            "daemonize no",
        ]
        if redis.tls.enabled:
            lines += [
                f"tls-port {self.port}",
                f"tls-cert-file {self.tls.server_cert}",
                f"tls-key-file {self.tls.server_key}",
                f"tls-ca-cert-file {self.tls.ca_cert}",
            ]
        else:
            lines.append(f"port {self.port}")
        if redis.auth.enabled:
            lines.append(f"aclfile {self.acl_file}")
        return "\n".join(lines) + "\n"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "redis-local.conf"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "redis.log"

    # ------------------------------------------------------------ life cycle

    def start(self, timeout: float = 15.0) -> None:
        """Start redis-server and wait until it answers an authenticated PING over TLS."""
        if not self.config_file.exists():
            self.prepare()
        self.process = subprocess.Popen(
            [self.executable, str(self.config_file)],
            cwd=self.state_dir / "data",  # the chart's redis.conf keeps data in `dir ./`
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,  # no orphan redis-server when we are killed
        )
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start-up:\n{self._log_tail()}")
            try:
                self.ping()
                return
            except Exception as exc:
                last_error = exc
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(
            f"redis-server not ready after {timeout}s: {last_error}\n{self._log_tail()}"
        )

    def start_reloader(
        self,
        interval_seconds: int = 1,
        *,
        files_of: RedisServer | None = None,
        local_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Run the chart's redis-reloader.sh beside the server, as the pod's sidecar does.

        A Sentinel set's nodes use node 0's rendered files, password files and ACL file
        (`files_of`), each with its own `local_dir`, and add the Sentinel's `extra_env`.
        """
        assert self.tls is not None
        files = files_of or self
        conf_dir = files.state_dir / "conf"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "REDIS_PORT": str(self.port),
            "REDIS_TLS": "true" if self.spec.redis.tls.enabled else "false",
            "REDIS_TLS_AUTH_CLIENTS": self.spec.redis.tls.auth_clients,
            "REDIS_TLS_CERT_FILE": str(self.tls.server_cert),
            "REDIS_TLS_KEY_FILE": str(self.tls.server_key),
            "REDIS_TLS_CA_FILE": str(self.tls.ca_cert),
            "RELOAD_INTERVAL_SECONDS": str(interval_seconds),
        }
        persistence = self.spec.redis.persistence
        if persistence.enabled:  # the disk guard, as the chart's env sets it
            env["DATA_DIR"] = str(self.state_dir / "data")
            env["APPENDFSYNC"] = persistence.appendfsync
            env["DISK_RESERVE_PERCENT"] = str(persistence.disk_reserve_percent)
        env.update(extra_env or {})
        local = local_dir or self.local_dir
        argv = [str(p) for p in (conf_dir, files.password_dir, local, files.acl_file)]
        with (self.state_dir / "reloader.log").open("ab") as log:
            self.reloader = subprocess.Popen(
                ["sh", str(conf_dir / "redis-reloader.sh"), *argv],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        return self.reloader

    def reloader_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.state_dir / "reloader.log").read_text()
        return "(no reloader log)"

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM: it writes its files; SIGKILL with kill=True)."""
        if self.reloader is not None and self.reloader.poll() is None:
            self.reloader.kill()
            self.reloader.wait(timeout)
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def _log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text().splitlines()[-lines:])
        return "(no log)"

    # ------------------------------------------------------------ clients

    def ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        assert self.tls is not None
        context = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        if client_cert:
            context.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
        return context

    def connection_kwargs(self, role: str = "worker") -> dict[str, Any]:
        """redis-py keyword arguments for one ACL user (TLS, verified against our CA;
        plaintext only for a dev spec with TLS off, e.g. Valkey built without TLS)."""
        assert self.tls is not None
        kwargs: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "username": role,
            "password": self.passwords[role],
        }
        if self.spec.redis.tls.enabled:
            kwargs.update(ssl=True, ssl_ca_certs=str(self.tls.ca_cert), ssl_cert_reqs="required")
        return kwargs

    def env(self, role: str = "worker") -> dict[str, str]:
        """Env vars for a worker/scheduler process (password by file, never by value)."""
        assert self.tls is not None
        env = {
            "BULLMQ_PLATFORM_REDIS_HOST": "127.0.0.1",
            "BULLMQ_PLATFORM_REDIS_PORT": str(self.port),
            "BULLMQ_PLATFORM_REDIS_USERNAME": role,
            "BULLMQ_PLATFORM_REDIS_PASSWORD_FILE": str(self.state_dir / "passwords" / role),
            "BULLMQ_PLATFORM_REDIS_CA_FILE": str(self.tls.ca_cert),
        }
        if not self.spec.redis.tls.enabled:
            env["BULLMQ_PLATFORM_REDIS_TLS"] = "false"
        return env

    def ping(self, role: str = "worker") -> None:
        import redis

        client = redis.Redis(**self.connection_kwargs(role), socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
