"""Settings from `<prefix><FIELD>` environment variables, keyword arguments first, every
value validated with the field's name (platform_spec/env_settings.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from platform_spec.env_settings import EnvSettings
from platform_spec.settings import RedisSettings, RuntimeSettings
from workers.settings import WorkerSettings


class Example(EnvSettings):
    env_prefix = "EXAMPLE_"

    port: int = Field(1, ge=1)
    tls: bool = True
    path: Path | None = None
    ratio: float = 0.5


def test_it_should_read_each_field_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_PORT", "8080")
    monkeypatch.setenv("example_tls", "false")  # any case, as pydantic-settings matched
    monkeypatch.setenv("EXAMPLE_PATH", "/etc/x")
    monkeypatch.setenv("EXAMPLE_UNKNOWN", "ignored")
    got = Example()
    assert (got.port, got.tls, got.path, got.ratio) == (8080, False, Path("/etc/x"), 0.5)
    assert Example(port=9).port == 9  # keyword arguments win


def test_it_should_name_the_field_of_a_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_PORT", "zero")
    with pytest.raises(ValidationError, match="port"):
        Example()
    monkeypatch.setenv("BULLMQ_PLATFORM_WORKER_LOCK_DURATION_MS", "5")
    with pytest.raises(ValidationError, match="lock_duration_ms"):
        WorkerSettings()


def test_it_should_keep_the_prefixes_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULLMQ_PLATFORM_REDIS_PORT", "7000")
    monkeypatch.setenv("BULLMQ_PLATFORM_WORKER_DRAIN_DELAY_SECONDS", "0.5")
    assert RedisSettings(secrets_dir=Path("/nonexistent")).port == 7000
    assert WorkerSettings().drain_delay_seconds == 0.5


def test_it_should_not_import_pydantic_settings_in_a_worker() -> None:
    """Its sources (dotenv, CLI, cloud secrets) cost the worker about 30 ms of start-up."""
    code = "import sys, workers.worker_command; print('pydantic_settings' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize(
    ("given", "level"),
    [("DEBUG", "debug"), ("WARN", "warning"), ("Warning", "warning"), ("CRITICAL", "error")],
)
def test_it_should_take_logging_s_level_names(
    monkeypatch: pytest.MonkeyPatch, given: str, level: str
) -> None:
    """A pod set up with logging's spellings keeps starting (the variable was free-form)."""
    monkeypatch.setenv("BULLMQ_PLATFORM_LOG_LEVEL", given)
    assert RuntimeSettings().log_level == level


def test_it_should_refuse_an_unknown_log_level_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BULLMQ_PLATFORM_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError, match="log_level"):
        RuntimeSettings()
