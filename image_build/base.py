"""The local base image: Debian bookworm with python3.11, for machines without a registry.

The official Python base cannot be pulled here, so `--base local` builds on a
debootstrapped bookworm (python3.11, python3-venv, ca-certificates) imported into
podman as `localhost/bullmq-platform-base:bookworm-py311`. The root filesystem is
cached as a tarball outside the repository (image_build/tools.py cache_dir()): the
first run takes about two minutes, later runs only re-import it when podman's
storage lost the image. A file lock keeps two builds on one machine from racing.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from pathlib import Path

from image_build.tools import cache_dir, container_env, image_exists, progress, run

LOCAL_BASE = "localhost/bullmq-platform-base:bookworm-py311"
SUITE = "bookworm"
PACKAGES = ("python3.11", "python3-venv", "ca-certificates")
# Left out of the image: package caches, lists and docs that nothing reads at run time.
PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")


def _debootstrap(tarball: Path) -> None:
    """debootstrap the root filesystem and pack it into `tarball` (about two minutes)."""
    progress(f"debootstrap {SUITE} with {', '.join(PACKAGES)} (first run only, ~2 min)")
    with tempfile.TemporaryDirectory(dir=tarball.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(rootfs),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for rel in PRUNE:
            target = rootfs / rel
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir()
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


def ensure_local_base() -> str:
    """The local base image's reference, made (or re-imported from the cache) when missing."""
    cache = cache_dir() / "base"
    cache.mkdir(exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(LOCAL_BASE):
            return LOCAL_BASE
        tarball = cache / f"{SUITE}-py311.tar"
        if not tarball.is_file():
            _debootstrap(tarball)
        progress(f"importing {tarball} as {LOCAL_BASE}")
        with tarball.open("rb") as stream:
            subprocess.run(
                ["podman", "import", "--change", 'CMD ["/bin/bash"]', "-", LOCAL_BASE],
                stdin=stream,
                env=container_env(),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        run(["podman", "image", "exists", LOCAL_BASE])
    return LOCAL_BASE
