"""Runtime settings of workers and scheduler, from env vars and mounted Secret files.

Every variable starts with `BULLMQ_PLATFORM_`. Secrets come from files (the
chart mounts Secrets, never env values): the password from
`<secretsDir>/password` (or `..._REDIS_PASSWORD_FILE`), TLS material from
`ca.crt`, and optionally `tls.crt`/`tls.key` for mutual TLS. The password is a
`SecretStr`: it never shows in `repr`, logs or exception text, and nothing here
ever puts it on a command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from platform_spec.env_settings import EnvSettings
from platform_spec.model import PlatformSpec
from platform_spec.password_file import PasswordFile, read_password
from platform_spec.pod_facts import HTTP_PORT, SECRETS_DIR, SPEC_FILE
from platform_spec.sections.common import EventLoop, LogLevel

ENV_PREFIX = "BULLMQ_PLATFORM_"
DEFAULT_SECRETS_DIR = Path(SECRETS_DIR)
DEFAULT_SPEC_FILE = Path(SPEC_FILE)
# Key of the Redis Cluster marker in `RedisSettings.redis_kwargs()`.
CLUSTER_KWARG = "cluster"


@dataclass(frozen=True)
class SentinelTarget:
    """Where the Sentinels are and how to log in to them; rides in the connection kwargs.

    `connection_kwargs()` puts it under the key `sentinel`, so every client factory
    (workers/connection.py, the fast engine) finds it next to the data nodes' TLS and
    credentials and asks the Sentinels for the primary at every (re)connect.
    """

    addresses: tuple[tuple[str, int], ...]
    master_name: str
    # Keyword arguments of the connections to the Sentinels (TLS, credential_provider).
    kwargs: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_addresses(text: str) -> tuple[tuple[str, int], ...]:
    """`host:port,host:port` into pairs; ValueError naming the bad entry."""
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"sentinel address {item!r} is not host:port")
        pairs.append((host, int(port)))
    return tuple(pairs)


class RedisSettings(EnvSettings):
    """How to reach Redis: TLS and ACL user by default."""

    env_prefix = f"{ENV_PREFIX}REDIS_"

    host: str = "127.0.0.1"
    port: int = Field(6379, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    tls: bool = True
    secrets_dir: Path = DEFAULT_SECRETS_DIR
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    connect_timeout_seconds: float = 5.0
    db: int = 0
    # Redis Cluster (redis.mode cluster, or external.cluster): host/port is one seed
    # node; clients discover the shards from it (workers/cluster_client.py).
    cluster: bool = False
    # Sentinel mode: `host:port,...` of the Sentinels; host/port above are then unused.
    sentinel_hosts: str | None = None
    sentinel_master: str | None = None
    sentinel_username: str | None = None
    sentinel_password_file: Path | None = None
    # The file the password came from: re-read at every connect (rotation).
    _password_path: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load_files(self) -> RedisSettings:
        """Fill the password and TLS paths from the secrets directory when not given."""
        if self.password is None:
            source = self.password_file or self.secrets_dir / "password"
            if source.is_file():
                self.password = SecretStr(read_password(source))
                self._password_path = source
        if self.tls:
            for attr, name in (
                ("ca_file", "ca.crt"),
                ("cert_file", "tls.crt"),
                ("key_file", "tls.key"),
            ):
                if getattr(self, attr) is None and (self.secrets_dir / name).is_file():
                    setattr(self, attr, self.secrets_dir / name)
        if self.sentinel_hosts:
            parse_addresses(self.sentinel_hosts)
            if not self.sentinel_master:
                raise ValueError("sentinel_master is required when sentinel_hosts is set")
            # The Sentinels know each client by its data-node user and password file.
            if self.sentinel_password_file is None:
                self.sentinel_password_file = self._password_path
            if self.sentinel_username is None:
                self.sentinel_username = self.username
        return self

    def _tls_kwargs(self) -> dict[str, Any]:
        if not self.tls:
            return {}
        return {
            "ssl": True,
            "ssl_ca_certs": str(self.ca_file) if self.ca_file else None,
            "ssl_certfile": str(self.cert_file) if self.cert_file else None,
            "ssl_keyfile": str(self.key_file) if self.key_file else None,
            # Always verify the host name against the certificate: `host` (or each
            # name a Sentinel announces) must be one the certificate carries.
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
        }

    def sentinel_target(self) -> SentinelTarget | None:
        """The Sentinels to ask for the primary, or None for a plain Redis."""
        if not self.sentinel_hosts or not self.sentinel_master:
            return None
        kwargs: dict[str, Any] = {"socket_connect_timeout": self.connect_timeout_seconds}
        kwargs["socket_timeout"] = self.connect_timeout_seconds
        if self.sentinel_password_file is not None:
            # One path only (credential_provider): redis-py refuses it beside a password.
            kwargs["credential_provider"] = PasswordFile(
                self.sentinel_password_file, self.sentinel_username
            )
        kwargs.update(self._tls_kwargs())
        return SentinelTarget(parse_addresses(self.sentinel_hosts), self.sentinel_master, kwargs)

    def redis_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `redis.asyncio.Redis` (and so for bullmq's connection).

        A password read from a file comes as a `credential_provider` that reads
        the file again at every connect, so reconnects follow a rotation.
        """
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "socket_connect_timeout": self.connect_timeout_seconds,
        }
        if self._password_path is not None:
            kwargs["credential_provider"] = PasswordFile(self._password_path, self.username)
        else:
            kwargs["username"] = self.username
            kwargs["password"] = self.password.get_secret_value() if self.password else None
        kwargs.update(self._tls_kwargs())
        target = self.sentinel_target()
        if target is not None:
            # Clients built by workers/connection.py follow the primary through it.
            kwargs["sentinel"] = target
        if self.cluster:
            # A marker, not a redis-py argument: the client factories in
            # workers/connection.py make a RedisCluster when they see it.
            kwargs[CLUSTER_KWARG] = True
        return kwargs

    def describe(self) -> str:
        """Where we connect, for logs: never the password."""
        scheme = "rediss" if self.tls else "redis"
        if self.sentinel_hosts:
            return f"{scheme}+sentinel://{self.sentinel_hosts}/{self.sentinel_master}/{self.db}"
        user = f"{self.username}@" if self.username else ""
        where = f"{scheme}://{user}{self.host}:{self.port}/{self.db}"
        return f"{where} (cluster)" if self.cluster else where


# logging's level names that the spec's LogLevel spells otherwise.
LOG_LEVEL_ALIASES = {"warn": "warning", "critical": "error", "fatal": "error"}


class RuntimeSettings(EnvSettings):
    """Settings shared by the worker and the scheduler processes."""

    env_prefix = ENV_PREFIX

    spec_file: Path = DEFAULT_SPEC_FILE
    # One HTTP port per process serves /healthz, /readyz and /metrics. In pods it
    # is fenced by a NetworkPolicy; locally, bind 127.0.0.1.
    http_host: str = "0.0.0.0"
    http_port: int = Field(HTTP_PORT, ge=0, le=65535)
    log_format: str = Field("auto", pattern="^(auto|json|console)$")
    # Unset: a worker takes its queue's `logLevel` from the spec, the scheduler `info`.
    # The chart sets it from the spec on every worker pod (one source: the spec).
    log_level: LogLevel | None = None
    # Unset: a worker runs on its queue's `eventLoop` from the spec (workers/event_loop.py);
    # set, it wins, so one pod can be switched with `kubectl set env`. The scheduler runs
    # on asyncio's loop.
    event_loop: EventLoop | None = None

    @field_validator("event_loop", mode="before")
    @classmethod
    def _loop_lower_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        """`DEBUG` and `debug` alike (logging's names are upper case); logging's other
        spellings (`WARN`, `CRITICAL`, `FATAL`) as the nearest level, so a pod set up for
        the earlier free-form variable does not crash-loop."""
        if not isinstance(value, str):
            return value
        lowered = value.lower()
        return LOG_LEVEL_ALIASES.get(lowered, lowered)

    def load_spec(self) -> PlatformSpec:
        """The deployment spec the chart mounted (the rendered chart values)."""
        return PlatformSpec.model_validate_json(self.spec_file.read_text())


class ScalingSettings(EnvSettings):
    """The scheduler's HTTPS endpoint that KEDA's metrics-api scaler reads.

    Off unless a port is set (the chart sets it in `keda.scaler: metricsApi`
    mode). Requests must carry `Authorization: Bearer <token>`, the token read
    from a mounted Secret file; TLS uses `tls.crt`/`tls.key` from `cert_dir`
    (scheduler/certificates.py re-reads them on renewal).
    """

    env_prefix = f"{ENV_PREFIX}SCALING_"

    host: str = "0.0.0.0"  # pods: the port is fenced by a NetworkPolicy admitting only KEDA
    port: int | None = Field(None, ge=0, le=65535)
    token_file: Path | None = None
    cert_dir: Path | None = None
    # With a CA, clients must present a certificate it signed (KEDA's client certificate).
    client_ca_file: Path | None = None

    def token(self) -> SecretStr | None:
        if self.token_file is None:
            return None
        return SecretStr(self.token_file.read_text().rstrip("\r\n"))
