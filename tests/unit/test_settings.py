"""Runtime settings read secrets from files and never show them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from platform_spec.settings import RedisSettings
from workers.connection import bullmq_connection

PASSWORD = "s3cr3t-Value-42"


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    (tmp_path / "password").write_text(PASSWORD + "\n")  # kubectl --from-file keeps the newline
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


def test_it_should_read_the_password_and_ca_from_the_secrets_dir(
    secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_SECRETS_DIR", str(secrets_dir))
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_USERNAME", "worker")
    settings = RedisSettings()
    assert settings.password is not None
    assert settings.password.get_secret_value() == PASSWORD
    assert settings.ca_file == secrets_dir / "ca.crt"
    provider = settings.redis_kwargs()["credential_provider"]
    assert provider.get_credentials() == ("worker", PASSWORD)
    assert settings.redis_kwargs()["ssl"] is True
    # The host name is always verified: `host` must be a name the certificate carries.
    assert settings.redis_kwargs()["ssl_check_hostname"] is True


def test_it_should_never_show_the_password(secrets_dir: Path) -> None:
    settings = RedisSettings(secrets_dir=secrets_dir)
    for text in (repr(settings), str(settings), settings.describe(), settings.model_dump_json()):
        assert PASSWORD not in text
    connection = bullmq_connection(settings)
    assert connection["credential_provider"].get_credentials()[-1] == PASSWORD
    assert PASSWORD not in repr(connection) and PASSWORD not in str(connection)
    assert PASSWORD not in repr({"connection": connection})


def test_it_should_prefer_an_explicit_password_file(tmp_path: Path, secrets_dir: Path) -> None:
    other = tmp_path / "other"
    other.write_text("another")
    settings = RedisSettings(secrets_dir=secrets_dir, password_file=other)
    assert settings.password is not None and settings.password.get_secret_value() == "another"


def test_it_should_keep_the_password_out_of_the_engine_config() -> None:
    from workers.engine import EngineConfig

    config = EngineConfig(
        queue="q",
        prefix="bull",
        connection={"host": "h", "password": PASSWORD},
        concurrency=1,
        default_attempts=1,
        lock_duration_ms=1,
        stalled_interval_ms=1,
        max_stalled_count=1,
        drain_delay_seconds=1.0,
        remove_on_complete=False,
        remove_on_fail=False,
    )
    assert PASSWORD not in repr(config)


def test_it_should_read_the_password_file_again_at_every_connect(secrets_dir: Path) -> None:
    """A rotation replaces the mounted file: the next connection must use the new password."""
    settings = RedisSettings(secrets_dir=secrets_dir, username="worker")
    provider = settings.redis_kwargs()["credential_provider"]
    (secrets_dir / "password").write_text("rotated-Value-43\n")
    assert provider.get_credentials() == ("worker", "rotated-Value-43")
    assert PASSWORD not in repr(provider) and "rotated" not in repr(provider)


def test_it_should_pass_an_explicit_password_as_is() -> None:
    kwargs = RedisSettings(password=SecretStr(PASSWORD), username="w").redis_kwargs()
    assert kwargs["password"] == PASSWORD and "credential_provider" not in kwargs
