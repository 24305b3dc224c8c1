"""The container tools this machine kind needs, installed from Debian when missing.

No Docker daemon and no registry here: buildah builds (`--isolation chroot`), podman runs
with the runc runtime (crun fails on this kernel's hybrid cgroups), debootstrap makes the
local base image. See docs/image.md, "Building without Docker".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

APT_PACKAGES = ("buildah", "podman", "runc", "debootstrap")
COMMANDS = ("buildah", "podman", "runc", "debootstrap")
# Outside the repository, shared by every clone on the machine (env var overrides).
CACHE_ENV = "BULLMQ_PLATFORM_IMAGE_CACHE"
DEFAULT_CACHE = "~/.cache/bullmq-platform"
# root here lacks CAP_SYS_RESOURCE: podman's default rlimits are refused, so name them.
CONTAINERS_CONF = """\
# Written by image_build/tools.py: runc (crun fails on hybrid cgroups) and explicit
# ulimits (the defaults need CAP_SYS_RESOURCE, which root lacks on this machine kind).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""


def progress(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """The cache folder (local base tarball, containers.conf), made on first use."""
    path = Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE)).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_tools() -> None:
    """apt-get install the tools that are missing (waits for another engineer's dpkg lock)."""
    missing = [cmd for cmd in COMMANDS if shutil.which(cmd) is None]
    if not missing:
        return
    progress(f"installing Debian packages: {' '.join(APT_PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=900"]
    subprocess.run([*apt, "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*apt, "install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def container_env() -> dict[str, str]:
    """The environment for buildah and podman: CONTAINERS_CONF names our containers.conf."""
    conf = cache_dir() / "containers.conf"
    if not conf.is_file() or conf.read_text() != CONTAINERS_CONF:
        conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def run(cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a buildah/podman command with our containers.conf; raise with its stderr."""
    result = subprocess.run(cmd, env=container_env(), text=True, capture_output=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({result.returncode}):\n{result.stderr}")
    return result


def image_exists(ref: str) -> bool:
    return run(["podman", "image", "exists", ref], check=False).returncode == 0
