"""Drill 7: who may not talk to the platform's Redis, checked against the running stack.

No password -> NOAUTH; a wrong password -> refused; plaintext to the TLS port
-> refused; a client that does not trust the platform CA -> refused. Then the
whole-platform version: a worker process given a wrong password or a foreign CA
never takes a job (the job stays waiting), fails its readiness or exits, and
never writes the password it was given to its log.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import redis
from drill_support import add, admin, drill_spec, stop, wait_until, workers
from redis.backoff import NoBackoff
from redis.retry import Retry

from local_stack.certs import generate_tls
from local_stack.processes import PlatformProcess
from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill]


def _client(server: RedisServer, **kwargs: object) -> redis.Redis:
    assert server.tls is not None
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "ssl": True,
        "ssl_ca_certs": str(server.tls.ca_cert),
        "socket_timeout": 3,
        "socket_connect_timeout": 3,
        "protocol": 2,
        "retry": Retry(NoBackoff(), 0),
    }
    base.update(kwargs)
    return redis.Redis(**base)  # type: ignore[arg-type]


def _refusal(client: redis.Redis) -> str:
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return "ACCEPTED"


def test_it_should_refuse_every_client_without_the_right_credentials(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    foreign = generate_tls(tmp_path / "foreign-ca", common_name="not-the-platform-ca")
    refusals = {
        "no password": _refusal(_client(redis_server)),
        "wrong password": _refusal(_client(redis_server, username="worker", password="wrong")),
        "plaintext to the TLS port": _refusal(_client(redis_server, ssl=False)),
        "untrusted CA": _refusal(
            _client(
                redis_server,
                username="worker",
                ssl_ca_certs=str(foreign.ca_cert),
                password=redis_server.passwords["worker"],
            )
        ),
    }
    for case, answer in refusals.items():
        print(f"[drill] security: {case} -> {answer[:110]}")
    assert (
        "NOAUTH" in refusals["no password"] or "Authentication required" in refusals["no password"]
    )
    assert "invalid username-password" in refusals["wrong password"]
    assert refusals["plaintext to the TLS port"].startswith("ConnectionError")
    assert "certificate verify failed" in refusals["untrusted CA"]
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=3) as raw:
        raw.sendall(b"*1\r\n$4\r\nPING\r\n")
        try:
            reply = raw.recv(64)
        except OSError:
            reply = b""
    assert not reply.startswith(b"+PONG"), "plaintext must never be answered"


def _misconfigured_worker(
    server: RedisServer, queue: str, tmp_path: Path, case: str
) -> tuple[PlatformProcess, int | None, int, str, str]:
    """A worker with a wrong password or a foreign CA, run for a bounded time, one job sent."""
    spec = drill_spec(queue)
    secret = "not-the-password-" + queue
    if case == "wrong password":
        wrong = tmp_path / "wrong-password"
        wrong.write_text(secret)
        wrong.chmod(0o600)
        env = {"BULLMQ_PLATFORM_REDIS_PASSWORD_FILE": str(wrong)}
    else:
        foreign = generate_tls(tmp_path / "foreign-ca", common_name="not-the-platform-ca")
        env = {"BULLMQ_PLATFORM_REDIS_CA_FILE": str(foreign.ca_cert)}
    client = admin(server)
    (proc,) = workers(server, spec, tmp_path, 1, extra_env=env)
    try:
        add(server, queue, 1)
        # Bounded: it either exits or stays unready; either way the job must stay waiting.
        wait_until(lambda: not proc.running, timeout=10)
        ready = proc.probe("/readyz")
        waiting = int(client.llen(f"bull:{queue}:wait"))
    finally:
        stop([proc])
        client.close()
    log = proc.log_file.read_text(errors="replace")
    print(
        f"[drill] security: worker with {case}: exit={proc.returncode}, readyz={ready}, "
        f"job waiting={waiting == 1}, log bytes={len(log)}"
    )
    return proc, ready, waiting, log, secret


@pytest.mark.slow
@pytest.mark.parametrize("case", ["wrong password", "untrusted CA"])
def test_it_should_keep_a_misconfigured_worker_from_taking_jobs(
    redis_server: RedisServer, queue_name: str, tmp_path: Path, case: str
) -> None:
    _, ready, waiting, log, secret = _misconfigured_worker(redis_server, queue_name, tmp_path, case)
    assert waiting == 1, "a worker without valid credentials must not take jobs"
    assert ready != 200
    assert secret not in log and redis_server.passwords["worker"] not in log


@pytest.mark.slow
def test_it_should_say_why_a_worker_with_a_wrong_password_cannot_start(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    proc, _, _, log, _ = _misconfigured_worker(redis_server, queue_name, tmp_path, "wrong password")
    # Regression: a refused worker used to log nothing, serve nothing and never exit.
    assert "AuthenticationError" in log and "refused ACL user 'worker'" in log, log[-2000:]
    assert proc.returncode == 1, "a worker Redis refuses must exit non-zero (CrashLoopBackOff)"
