"""Fixtures of the dashboard tests: what they need is installed here, pinned (the
dashboard's and the browser driver's npm packages by `npm ci` from their locks,
Debian's chromium by apt), then one platform with the dashboard per test module."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from board import BROWSER_DIR, CHROMIUM, Board, start_board, stop_board

from local_stack.dashboard import install_node_modules
from local_stack.npm import npm_ci

APT_LOCK_TIMEOUT = "900"  # other builds on the machine may hold the dpkg lock


def _apt_install(*packages: str) -> None:
    apt = ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*apt, "install", "-y", "-qq", "--no-install-recommends", *packages]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([*apt, "update", "-qq"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Debian's chromium and the pinned npm packages (the dashboard's, playwright-core)."""
    if not CHROMIUM.exists():
        _apt_install("chromium")
    install_node_modules()
    npm_ci(BROWSER_DIR, "playwright-core")


@pytest.fixture(scope="module")
def read_only_board(
    browser_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Board]:
    board = start_board(tmp_path_factory.mktemp("board-ro"), actions=False)
    try:
        yield board
    finally:
        stop_board(board)


@pytest.fixture(scope="module")
def actions_board(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    board = start_board(tmp_path_factory.mktemp("board-actions"), actions=True)
    try:
        yield board
    finally:
        stop_board(board)
