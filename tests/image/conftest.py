"""Fixtures of the image tests: both images built once per session, a container runner.

The images are built from this checkout on the local bookworm base (no registry
here; see image_build/base.py), tagged under localhost/ with a per-checkout tag,
so they never shadow a real build or another clone's. buildah's layer cache
makes a second session's build quick.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from containers import Containers

from image_build.build import Built, build
from image_build.recipes import HANDLER_EXAMPLE, PLATFORM, ROOT, project_version
from image_build.tools import ensure_tools, progress

MB = 1_000_000
# One tag per checkout: another clone on this machine building at the same time
# must not retag the image this session runs.
TAG = f"{project_version()}-test-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Images:
    platform: Built
    handler: Built


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    ensure_tools()
    log = tmp_path_factory.mktemp("image-build") / "build.log"
    started = time.monotonic()
    try:
        platform = build(
            PLATFORM, base="local", repository="localhost/bullmq-platform", tag=TAG, log=log
        )
        handler = build(
            HANDLER_EXAMPLE,
            repository="localhost/bullmq-platform-handler-example",
            tag=TAG,
            build_args={"PLATFORM_IMAGE": platform.ref},
            log=log,
        )
    except RuntimeError as exc:
        tail = "\n".join(log.read_text().splitlines()[-40:]) if log.exists() else ""
        raise AssertionError(f"{exc}\n{tail}") from None
    for built in (platform, handler):
        added = f"{built.added / MB:.1f} MB added" if built.added is not None else "?"
        progress(f"{built.ref}: {built.size / MB:.1f} MB total, {added}, {built.seconds:.1f} s")
    progress(f"both images built in {time.monotonic() - started:.1f} s")
    return Images(platform, handler)


@pytest.fixture(scope="session")
def containers() -> Iterator[Containers]:
    runner = Containers()
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Host folders the containers mount: readable by the chart's non-root user."""
    tmp_path.chmod(0o755)
    return tmp_path
