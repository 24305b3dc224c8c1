"""Build and run dashboard/Containerfile here: no registry, so on a local base.

The base is a debootstrapped bookworm with Debian's nodejs (18) and npm, imported into
podman as LOCAL_BASE; its root filesystem is cached as a tarball outside the
repository (~/.cache/bullmq-platform, or $BULLMQ_PLATFORM_IMAGE_CACHE), so only
the first run on a machine pays for debootstrap. buildah and podman run with runc
and explicit ulimits (DESIGN.md "Containers here"). The platform image's own
tooling (scripts/image) may take this over once it lands.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LOCAL_BASE = "localhost/bullmq-platform-dashboard-base:bookworm-node"
# debootstrap resolves npm's dependencies incompletely (node-* alternatives), so npm
# is installed afterwards with apt inside the new root.
PACKAGES = ("nodejs", "ca-certificates")
APT_PACKAGES = ("npm",)
PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")
TOOLS = {"buildah": "buildah", "podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""


def cache_dir() -> Path:
    path = Path(os.environ.get("BULLMQ_PLATFORM_IMAGE_CACHE", "~/.cache/bullmq-platform"))
    path = path.expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def container_env() -> dict[str, str]:
    conf = cache_dir() / "dashboard-containers.conf"
    if not conf.is_file() or conf.read_text() != CONTAINERS_CONF:
        conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a container tool with our containers.conf; raise with its stderr."""
    result = subprocess.run(
        cmd, env=container_env(), text=True, capture_output=True, check=False, **kwargs
    )  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({result.returncode}):\n{result.stderr}")
    return result


def ensure_tools() -> None:
    """apt-get install buildah, podman, runc, debootstrap when missing (waits on the dpkg lock)."""
    missing = [pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y", "-qq", *missing],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=True,
            capture_output=True,
        )


def ensure_local_base() -> str:
    """The local base image, debootstrapped once per machine (about two minutes)."""
    ensure_tools()
    cache = cache_dir() / "dashboard-base"
    cache.mkdir(exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        exists = subprocess.run(
            ["podman", "image", "exists", LOCAL_BASE], env=container_env(), check=False
        )
        if exists.returncode == 0:
            return LOCAL_BASE
        tarball = cache / "bookworm-node.tar"
        if not tarball.is_file():
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                rootfs = Path(tmp) / "rootfs"
                subprocess.run(
                    [
                        "debootstrap",
                        "--variant=minbase",
                        f"--include={','.join(PACKAGES)}",
                        "bookworm",
                        str(rootfs),
                    ],
                    check=True,
                    capture_output=True,
                )
                shutil.copy("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")
                apt = "apt-get update -qq && apt-get install -y -qq --no-install-recommends"
                subprocess.run(
                    ["chroot", str(rootfs), "sh", "-c", f"{apt} {' '.join(APT_PACKAGES)}"],
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                    check=True,
                    capture_output=True,
                )
                (rootfs / "etc" / "resolv.conf").unlink()
                for rel in PRUNE:
                    target = rootfs / rel
                    if target.is_dir():
                        shutil.rmtree(target)
                        target.mkdir()
                partial = tarball.with_suffix(".partial")
                subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
                partial.rename(tarball)
        with tarball.open("rb") as stream:
            subprocess.run(
                ["podman", "import", "--change", 'CMD ["/bin/bash"]', "-", LOCAL_BASE],
                stdin=stream,
                env=container_env(),
                check=True,
                capture_output=True,
            )
    return LOCAL_BASE


def build(context: Path, tag: str, base: str) -> str:
    """`buildah bud` of dashboard/Containerfile on `base`; the image reference."""
    cmd = ["buildah", "bud", "--isolation", "chroot", "--layers", "--format", "oci"]
    cmd += ["--build-arg", f"BASE_IMAGE={base}", "-f", str(context / "Containerfile"), "-t", tag]
    if CA_BUNDLE.is_file():
        cmd += ["--secret", f"id=cabundle,src={CA_BUNDLE}"]
    run([*cmd, str(context)], timeout=1200)
    return tag
