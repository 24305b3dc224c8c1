"""The local stack starts the chart-configured Redis and shows queue depths."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from local_stack.__main__ import app

pytestmark = pytest.mark.redis


def test_it_should_start_show_depths_and_stop(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["up", "--once", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "rediss://127.0.0.1:" in result.output
    assert "notifications" in result.output
    assert "stopped" in result.output
    assert (tmp_path / "redis" / "data" / "appendonlydir").is_dir()
    password = (tmp_path / "redis" / "passwords" / "admin").read_text()
    assert password not in result.output


def test_it_should_have_help_on_every_command() -> None:
    runner = CliRunner()
    for args in (["--help"], ["up", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output
