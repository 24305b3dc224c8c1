"""`python -m scheduler reconcile`: one pass, a table or --json, exit 0 when it went through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scheduler_harness import make_spec, schedule, write_spec
from typer.testing import CliRunner

from local_stack.redis_server import RedisServer
from scheduler.__main__ import app

pytestmark = [pytest.mark.redis]


def test_it_should_reconcile_once_and_report(
    redis_server: RedisServer, queue_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(queue_name, [schedule(queue_name, "cli", cron="0 3 * * *")])
    monkeypatch.setenv("BULLMQ_PLATFORM_SPEC_FILE", str(write_spec(tmp_path / "spec.json", spec)))
    for name, value in redis_server.env("scheduler").items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    first = runner.invoke(app, ["reconcile", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["created"] == ["cli"]
    second = runner.invoke(app, ["reconcile"])
    assert second.exit_code == 0, second.output
    assert "unchanged: cli" in second.output
