"""The bench's runtime venv is made from the image's interpreter when it can be, and says
so when it cannot (bench/runtime_venv.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.runtime_venv import make_venv


def test_it_should_fall_back_to_this_interpreter_and_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "stale").write_text("from an earlier build")
    made_from = make_venv(venv, Path("/bin/false"))  # exists, makes no venv
    assert made_from == sys.executable
    assert (venv / "bin" / "python").exists()
    assert not (venv / "stale").exists()
    assert "/bin/false cannot make a venv" in capsys.readouterr().out


def test_it_should_use_this_interpreter_quietly_when_the_image_one_is_absent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made_from = make_venv(tmp_path / "venv", tmp_path / "no-python3.11")
    assert made_from == sys.executable
    assert capsys.readouterr().out == ""
