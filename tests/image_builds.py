"""Build an image of this repository for a test session, on its local base.

No registry here, so every recipe builds on its debootstrapped base
(image_build/base.py), tagged under localhost/ with a per-checkout tag so it never
shadows a real build or another clone's. buildah's layer cache makes a second
session's build quick. Used by tests/image/ and tests/dashboard/.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from image_build.build import Built, build
from image_build.recipes import ROOT, Recipe, project_version
from image_build.tools import ensure_tools, progress

MB = 1_000_000
# One tag per checkout: another clone on this machine building at the same time
# must not retag the image this session runs.
TAG = f"{project_version()}-test-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Images:
    """The platform image and the handler example built FROM it (tests/image/)."""

    platform: Built
    handler: Built


def local_repository(recipe: Recipe) -> str:
    """localhost/<the recipe's repository name>: never a registry's."""
    return f"localhost/{recipe.repository.rsplit('/', 1)[-1]}"


def build_for_test(recipe: Recipe, log: Path, build_args: dict[str, str] | None = None) -> Built:
    """Build `recipe` (on its local base unless derived); fail with the build log's tail."""
    ensure_tools()
    try:
        built = build(
            recipe,
            base="local",
            repository=local_repository(recipe),
            tag=TAG,
            build_args=build_args,
            log=log,
        )
    except RuntimeError as exc:
        tail = "\n".join(log.read_text().splitlines()[-40:]) if log.exists() else ""
        raise AssertionError(f"{exc}\n{tail}") from None
    added = f"{built.added / MB:.1f} MB added" if built.added is not None else "?"
    progress(f"{built.ref}: {built.size / MB:.1f} MB total, {added}, {built.seconds:.1f} s")
    return built
