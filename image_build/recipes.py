"""The images this repository builds: where each Containerfile and build context is.

Another image is one more `Recipe` here: `scripts/image build NAME` then builds it
(local base, CA secret, labels, the runtime UID, size report), and its test builds
it through tests/image_builds.py.
"""

from __future__ import annotations

import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from image_build.base import NODE_BASE, PYTHON_BASE, LocalBase
from platform_spec.image_policy import DASHBOARD_PLACEHOLDER_REPOSITORY, PLACEHOLDER_REPOSITORY

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = ROOT / "images"
CHART_YAML = ROOT / "helm" / "bullmq-platform" / "Chart.yaml"
# Chart.yaml annotation: the UID/GID the images run as, and their pods' runAsUser.
RUNTIME_UID_ANNOTATION = "bullmq-platform/runtime-uid"


@dataclass(frozen=True)
class Recipe:
    """One image: its Containerfile, built from `context`."""

    name: str
    context: Path
    repository: str
    # What `--base local` builds on (None: FROM another image of this repository).
    local_base: LocalBase | None = None
    # Build arguments that name another image of this repository (arg -> recipe name).
    needs: tuple[tuple[str, str], ...] = ()
    # Default: images/<name>/Containerfile.
    containerfile_path: Path | None = None
    # Where the spec names this image (scripts/image prints how to pin it there).
    spec_field: str | None = None

    @property
    def containerfile(self) -> Path:
        return self.containerfile_path or IMAGES_DIR / self.name / "Containerfile"


PLATFORM = Recipe("platform", ROOT, PLACEHOLDER_REPOSITORY, PYTHON_BASE, spec_field="image")
HANDLER_EXAMPLE = Recipe(
    "handler-example",
    IMAGES_DIR / "handler-example",
    "localhost/bullmq-platform-handler-example",
    needs=(("PLATFORM_IMAGE", "platform"),),
)
# The dashboard keeps its Containerfile next to its sources (dashboard/, with the
# .containerignore that leaves node_modules out of the context).
DASHBOARD = Recipe(
    "dashboard",
    ROOT / "dashboard",
    DASHBOARD_PLACEHOLDER_REPOSITORY,
    NODE_BASE,
    containerfile_path=ROOT / "dashboard" / "Containerfile",
    spec_field="dashboard.image",
)
RECIPES = {recipe.name: recipe for recipe in (PLATFORM, HANDLER_EXAMPLE, DASHBOARD)}


def project_version() -> str:
    """The version in pyproject.toml: every image is tagged with it."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return str(data["project"]["version"])


def _chart() -> dict[str, Any]:
    return dict(yaml.safe_load(CHART_YAML.read_text()))


def source_url() -> str:
    """The project's home (Chart.yaml `home`), for the OCI source label."""
    return str(_chart()["home"])


def runtime_uid() -> int:
    """The UID/GID every image runs as: the chart's runAsUser, from Chart.yaml's annotation."""
    try:
        return int(_chart()["annotations"][RUNTIME_UID_ANNOTATION])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{CHART_YAML}: annotations.{RUNTIME_UID_ANNOTATION} must hold the images' UID"
        ) from exc


def revision() -> str:
    """The git commit the image is built from (`-dirty` with uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head
