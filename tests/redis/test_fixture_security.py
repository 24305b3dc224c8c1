"""The test Redis is what production runs: TLS only, passwords, AOF, noeviction."""

from __future__ import annotations

import socket
import ssl
import tempfile
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from local_stack.certs import generate_tls
from local_stack.redis_server import RedisServer

pytestmark = pytest.mark.redis


def _tls_kwargs(server: RedisServer) -> dict[str, object]:
    assert server.tls is not None
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "ssl": True,
        "ssl_ca_certs": str(server.tls.ca_cert),
        "socket_timeout": 3,
        "protocol": 2,
        "retry": Retry(NoBackoff(), 0),  # a refusal is the answer: do not retry it
    }


def test_it_should_refuse_a_command_without_password_with_noauth(redis_server: RedisServer) -> None:
    client = redis.Redis(**_tls_kwargs(redis_server))
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        client.ping()


def test_it_should_answer_noauth_on_the_wire(redis_server: RedisServer) -> None:
    """The raw reply, not a client library's interpretation of it."""
    context = redis_server.ssl_context()
    with (
        socket.create_connection(("127.0.0.1", redis_server.port), timeout=3) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert tls.recv(256).startswith(b"-NOAUTH")


def test_it_should_refuse_a_wrong_password(redis_server: RedisServer) -> None:
    client = redis.Redis(**_tls_kwargs(redis_server), username="worker", password="wrong")
    with pytest.raises(redis.AuthenticationError, match="invalid username-password"):
        client.ping()


def test_it_should_refuse_the_disabled_default_user(redis_server: RedisServer) -> None:
    client = redis.Redis(**_tls_kwargs(redis_server), password=redis_server.passwords["worker"])
    with pytest.raises(redis.AuthenticationError):
        client.ping()


def test_it_should_refuse_a_plaintext_client_on_the_tls_port(redis_server: RedisServer) -> None:
    kwargs = {**_tls_kwargs(redis_server), "ssl": False}
    client = redis.Redis(**kwargs, username="worker", password=redis_server.passwords["worker"])
    with pytest.raises(redis.ConnectionError):
        client.ping()


def test_it_should_refuse_a_client_that_does_not_trust_the_ca(redis_server: RedisServer) -> None:
    with tempfile.TemporaryDirectory() as other:
        stranger = generate_tls(Path(other), common_name="some-other-ca")
        kwargs = {**_tls_kwargs(redis_server), "ssl_ca_certs": str(stranger.ca_cert)}
        client = redis.Redis(**kwargs, username="worker", password=redis_server.passwords["worker"])
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            client.ping()


def test_it_should_verify_the_server_name(redis_server: RedisServer) -> None:
    """The server certificate names localhost and 127.0.0.1, nothing else."""
    context = redis_server.ssl_context()
    with (
        socket.create_connection(("127.0.0.1", redis_server.port), timeout=3) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="redis.example.com")


def test_it_should_run_the_production_policy(admin_client: redis.Redis) -> None:
    memory = admin_client.info("memory")
    persistence = admin_client.info("persistence")
    assert memory["maxmemory_policy"] == "noeviction"
    assert memory["maxmemory"] > 0
    assert persistence["aof_enabled"] == 1
    assert admin_client.config_get("port") == {"port": "0"}  # no plaintext listener
    assert admin_client.config_get("appendfsync") == {"appendfsync": "everysec"}


@pytest.mark.acl_denials
def test_it_should_let_the_worker_user_use_only_the_key_prefix(
    redis_client: redis.Redis, queue_name: str
) -> None:
    key = f"bull:{queue_name}:probe"
    assert redis_client.set(key, "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis_client.set(f"other:{queue_name}", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis_client.flushall()
    redis_client.delete(key)


def test_it_should_keep_passwords_off_the_command_line(redis_server: RedisServer) -> None:
    assert redis_server.process is not None
    cmdline = Path(f"/proc/{redis_server.process.pid}/cmdline").read_bytes().decode()
    for password in redis_server.passwords.values():
        assert password not in cmdline
    assert (redis_server.state_dir / "passwords" / "worker").stat().st_mode & 0o077 == 0


def test_it_should_keep_passwords_out_of_the_servers_repr(redis_server: RedisServer) -> None:
    text = repr(redis_server)
    assert redis_server.passwords
    assert not any(password in text for password in redis_server.passwords.values())
