"""The lock files in requirements/ match pyproject.toml, and the check notices drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from image_build.recipes import project_version
from platform_spec.model import Image

REPO = Path(__file__).resolve().parents[2]
CHECK = [sys.executable, str(REPO / "scripts" / "lockfiles.py"), "--check"]


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHECK, *args], capture_output=True, text=True, check=False)


def test_it_should_find_no_drift_in_the_repository_and_its_venv() -> None:
    result = _check()
    assert result.returncode == 0, result.stderr


@pytest.fixture
def copy_of_repo(tmp_path: Path) -> Path:
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    shutil.copytree(REPO / "requirements", tmp_path / "requirements")
    return tmp_path


def test_it_should_notice_a_pin_changed_without_relocking(copy_of_repo: Path) -> None:
    pyproject = copy_of_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"httpx==0.28.1"', '"httpx==0.28.0"'))
    result = _check("--root", str(copy_of_repo), "--no-venv")
    assert result.returncode == 1
    assert "requirements/runtime.lock: pyproject.toml changed" in result.stderr
    assert "httpx==0.28.1 but httpx==0.28.0" in result.stderr


def test_it_should_refuse_an_infra_package_in_the_runtime_lock(copy_of_repo: Path) -> None:
    runtime = copy_of_repo / "requirements" / "runtime.lock"
    runtime.write_text(runtime.read_text() + "grpcio==1.85.3\n")
    result = _check("--root", str(copy_of_repo), "--no-venv")
    assert result.returncode == 1
    assert "grpcio is not a runtime package" in result.stderr


def test_it_should_tag_the_image_with_the_version_the_spec_deploys() -> None:
    """scripts/image tags with the project version; the spec's default tag must be it."""
    assert Image().tag == project_version()
