"""`buildah bud` of one recipe, with the build arguments and the CA bundle secret it needs.

Builds run with `--isolation chroot` (no user namespaces or daemons needed) and
`--layers` (a second build reuses unchanged steps). pip inside the build verifies
the registry against the machine's CA bundle, passed as a build secret so it
never lands in a layer.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from image_build.base import ensure_base
from image_build.recipes import (
    RECIPES,
    Recipe,
    project_version,
    revision,
    runtime_uid,
    source_url,
)
from image_build.tools import container_env, ensure_tools, image_exists, progress, run

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# OCI label (org.opencontainers.image.<name>) -> the build argument that carries its value.
OCI_LABELS = {"version": "VERSION", "revision": "REVISION", "source": "SOURCE"}


@dataclass(frozen=True)
class Built:
    """What a build made: its reference, local id and sizes (bytes)."""

    ref: str
    image_id: str
    size: int
    base_ref: str | None  # the image it is built FROM, when known locally
    base_size: int | None
    seconds: float

    @property
    def added(self) -> int | None:
        """Bytes above the base image (None when the base is not in local storage)."""
        return None if self.base_size is None else self.size - self.base_size


def image_size(ref: str) -> int:
    return int(run(["podman", "image", "inspect", ref, "--format", "{{.Size}}"]).stdout)


def resolve_base(recipe: Recipe, base: str) -> str | None:
    """`official` -> the Containerfile's default (None), `local` -> the recipe's local base."""
    if base == "official" or recipe.needs:
        return None  # a derived image is FROM another image of this repository
    if base == "local":
        if recipe.local_base is None:
            raise ValueError(f"{recipe.name} has no local base")
        return ensure_base(recipe.local_base)
    return base


def build(
    recipe: Recipe,
    *,
    base: str = "official",
    tag: str | None = None,
    repository: str | None = None,
    build_args: dict[str, str] | None = None,
    log: Path | None = None,
    no_cache: bool = False,
) -> Built:
    """Build `recipe` and tag it `<repository>:<tag>` (default: the project version)."""
    ensure_tools()
    ref = f"{repository or recipe.repository}:{tag or project_version()}"
    # UID: the chart's runAsUser (Chart.yaml), so image and pods cannot disagree.
    args = {
        "VERSION": project_version(),
        "REVISION": revision(),
        "SOURCE": source_url(),
        "UID": str(runtime_uid()),
    }
    base_ref = resolve_base(recipe, base)
    if base_ref is not None:
        args["BASE_IMAGE"] = base_ref
    args.update(build_args or {})
    cmd = ["buildah", "bud", "--isolation", "chroot", "--layers", "--format", "oci"]
    cmd += ["-f", str(recipe.containerfile), "-t", ref]
    if no_cache:
        cmd.append("--no-cache")
    for key, value in sorted(args.items()):
        cmd += ["--build-arg", f"{key}={value}"]
    # Also as --label: buildah 1.28's layer cache reuses a LABEL step whose ARG values
    # changed, so a rebuild at a new commit would keep the old revision label.
    for label, key in OCI_LABELS.items():
        cmd += ["--label", f"org.opencontainers.image.{label}={args[key]}"]
    if CA_BUNDLE.is_file():
        cmd += ["--secret", f"id=cabundle,src={CA_BUNDLE}"]
    cmd.append(str(recipe.context))
    progress(f"building {recipe.name} as {ref}" + (f" on {base_ref}" if base_ref else ""))
    started = time.monotonic()
    with open(log or "/dev/stderr", "a") as out:
        result = subprocess.run(cmd, env=container_env(), stdout=out, stderr=out, check=False)
    if result.returncode != 0:
        where = f"; log: {log}" if log else ""
        hint = (
            " (no registry reachable? --base local builds on a local base)"
            if base == "official"
            else ""
        )
        raise RuntimeError(
            f"buildah bud of {recipe.name} failed ({result.returncode}){where}{hint}"
        )
    seconds = time.monotonic() - started
    image_id = run(["podman", "image", "inspect", ref, "--format", "{{.Id}}"]).stdout.strip()
    # The size above the parent: the base image, or the platform image a derived one is FROM.
    parent = base_ref or next((args[arg] for arg, _ in recipe.needs if arg in args), None)
    base_size = image_size(parent) if parent and image_exists(parent) else None
    return Built(ref, image_id, image_size(ref), parent, base_size, seconds)


def recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown image {name!r} (known: {', '.join(RECIPES)})") from None
