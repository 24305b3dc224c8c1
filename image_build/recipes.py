"""The images this repository builds: where each Containerfile and build context is.

A second image (e.g. a Node dashboard) is one more `Recipe` here and one more
folder under images/: `scripts/image build NAME` and tests/image/ then work for it.
"""

from __future__ import annotations

import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from platform_spec.image_policy import PLACEHOLDER_REPOSITORY

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = ROOT / "images"
CHART_YAML = ROOT / "helm" / "bullmq-platform" / "Chart.yaml"


@dataclass(frozen=True)
class Recipe:
    """One image: `images/<name>/Containerfile`, built from `context`."""

    name: str
    context: Path
    repository: str
    # Build arguments that name another image of this repository (arg -> recipe name).
    needs: tuple[tuple[str, str], ...] = ()

    @property
    def containerfile(self) -> Path:
        return IMAGES_DIR / self.name / "Containerfile"


PLATFORM = Recipe("platform", ROOT, PLACEHOLDER_REPOSITORY)
HANDLER_EXAMPLE = Recipe(
    "handler-example",
    IMAGES_DIR / "handler-example",
    "localhost/bullmq-platform-handler-example",
    needs=(("PLATFORM_IMAGE", "platform"),),
)
RECIPES = {recipe.name: recipe for recipe in (PLATFORM, HANDLER_EXAMPLE)}


def project_version() -> str:
    """The version in pyproject.toml: every image is tagged with it."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return str(data["project"]["version"])


def source_url() -> str:
    """The project's home (Chart.yaml `home`), for the OCI source label."""
    return str(yaml.safe_load(CHART_YAML.read_text())["home"])


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
