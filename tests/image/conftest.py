"""Fixtures of the image tests: both images built once per session (tests/conftest.py has
the container runner).

The images are built from this checkout on the local bookworm base by
tests/image_builds.py (the same machinery as scripts/image).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from image_builds import Images, build_for_test

from image_build.recipes import HANDLER_EXAMPLE, PLATFORM
from image_build.tools import progress


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    log = tmp_path_factory.mktemp("image-build") / "build.log"
    started = time.monotonic()
    platform = build_for_test(PLATFORM, log)
    handler = build_for_test(HANDLER_EXAMPLE, log, {"PLATFORM_IMAGE": platform.ref})
    progress(f"both images built in {time.monotonic() - started:.1f} s")
    return Images(platform, handler)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Host folders the containers mount: readable by the chart's non-root user."""
    tmp_path.chmod(0o755)
    return tmp_path
