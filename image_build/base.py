"""Local base images: Debian bookworm with one runtime, for machines without a registry.

The official Python and Node bases cannot be pulled here, so `--base local` builds
on a debootstrapped bookworm imported into podman: `PYTHON_BASE` (python3.11,
python3-venv) for the platform image, `NODE_BASE` (Debian's nodejs 18 and npm) for
the dashboard image. Each root filesystem is cached as a tarball outside the
repository (image_build/tools.py cache_dir(), folder `base/`): the first run takes
two to four minutes, later runs only re-import it when podman's storage lost the
image. A file lock keeps two builds on one machine from racing. Two bases rather
than one with both runtimes: a shared base would put node and npm (about 270 MB)
into the platform image (docs/image.md "Local bases").
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from image_build.tools import cache_dir, container_env, image_exists, progress, run

SUITE = "bookworm"
# Left out of the image: package caches, lists and docs that nothing reads at run time.
PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")


@dataclass(frozen=True)
class LocalBase:
    """One debootstrapped base: its podman reference and what it holds."""

    ref: str
    tarball: str  # file name in the cache's base/ folder
    packages: tuple[str, ...]  # debootstrap --include
    # Installed afterwards with apt inside the new root: debootstrap resolves some
    # dependency trees incompletely (npm's node-* alternatives).
    apt_packages: tuple[str, ...] = ()


PYTHON_BASE = LocalBase(
    "localhost/bullmq-platform-base:bookworm-py311",
    f"{SUITE}-py311.tar",
    ("python3.11", "python3-venv", "ca-certificates"),
)
NODE_BASE = LocalBase(
    "localhost/bullmq-platform-base:bookworm-node",
    f"{SUITE}-node.tar",
    ("nodejs", "ca-certificates"),
    apt_packages=("npm",),
)


def _apt_in_root(rootfs: Path, packages: tuple[str, ...]) -> None:
    """apt-get install `packages` inside `rootfs` (with the host's resolver for the fetch)."""
    resolv = rootfs / "etc" / "resolv.conf"
    shutil.copy("/etc/resolv.conf", resolv)
    apt = "apt-get update -qq && apt-get install -y -qq --no-install-recommends"
    try:
        subprocess.run(
            ["chroot", str(rootfs), "sh", "-c", f"{apt} {' '.join(packages)}"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        resolv.unlink()


def _debootstrap(base: LocalBase, tarball: Path) -> None:
    """debootstrap the root filesystem and pack it into `tarball` (two to four minutes)."""
    wanted = ", ".join(base.packages + base.apt_packages)
    progress(f"debootstrap {SUITE} with {wanted} (first run only, 2-4 min)")
    with tempfile.TemporaryDirectory(dir=tarball.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(base.packages)}",
                SUITE,
                str(rootfs),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if base.apt_packages:
            _apt_in_root(rootfs, base.apt_packages)
        for rel in PRUNE:
            target = rootfs / rel
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir()
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


def ensure_base(base: LocalBase) -> str:
    """`base`'s reference, made (or re-imported from the cache) when missing."""
    cache = cache_dir() / "base"
    cache.mkdir(exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(base.ref):
            return base.ref
        tarball = cache / base.tarball
        if not tarball.is_file():
            _debootstrap(base, tarball)
        progress(f"importing {tarball} as {base.ref}")
        with tarball.open("rb") as stream:
            subprocess.run(
                ["podman", "import", "--change", 'CMD ["/bin/bash"]', "-", base.ref],
                stdin=stream,
                env=container_env(),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        run(["podman", "image", "exists", base.ref])
    return base.ref
