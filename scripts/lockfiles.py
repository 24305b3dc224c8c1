"""One pinned lock file per install set, made from pyproject.toml and checked for drift.

Install sets (see the comment above `dependencies` in pyproject.toml):

    requirements/runtime.lock  the project's dependencies: what the image installs
    requirements/infra.lock    + [infra]: the Pulumi SDK and providers
    requirements/dev.lock      + [infra,sim,dev]: what scripts/bootstrap installs
    requirements/build.lock    the build backend (build-system.requires) for the runtime wheel

`scripts/lock` regenerates all four with uv (`uv pip compile --universal`, so a
marker such as redis-py's `async-timeout; python_full_version < "3.11.3"` is kept
and the same lock installs on Debian bookworm's Python 3.11.2 and on the
official 3.11 image). The dev set is resolved first; the others are constrained
by it, so one package has one version in every set.

`scripts/lock --check` needs no network: each lock carries the sha256 of the
pyproject inputs it was made from, every direct pin must appear in its lock
with the same version, the smaller sets must agree with the dev set, the
runtime set must hold none of the infra/plot/test packages, and the running
venv must hold the dev lock's versions.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK_DIR = "requirements"
HASH_PREFIX = "# inputs-sha256: "
# The image holds the runtime set: none of these may be in it (nor in its venv).
RUNTIME_FORBIDDEN = (
    "pulumi",
    "grpcio",
    "protobuf",
    "matplotlib",
    "numpy",
    "pytest",
    "mypy",
    "ruff",
    "kubernetes-validate",
    "uv",
)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.+))?$")


@dataclass(frozen=True)
class InstallSet:
    """One lock file: which pyproject inputs it is made from."""

    name: str
    extras: tuple[str, ...] = ()
    build: bool = False

    @property
    def filename(self) -> str:
        return f"{LOCK_DIR}/{self.name}.lock"


DEV = InstallSet("dev", ("infra", "sim", "dev"))
SETS = (
    DEV,
    InstallSet("infra", ("infra",)),
    InstallSet("runtime"),
    InstallSet("build", build=True),
)


def _pyproject(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text())


def direct_requirements(root: Path, install_set: InstallSet) -> list[str]:
    """The pyproject lines an install set is made from."""
    data = _pyproject(root)
    if install_set.build:
        return list(data["build-system"]["requires"])
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in install_set.extras:
        reqs += project["optional-dependencies"][extra]
    return reqs


def inputs_hash(root: Path, install_set: InstallSet) -> str:
    """sha256 of the inputs (and the uv pin): a lock with another hash is stale."""
    data = _pyproject(root)
    uv_pin = [r for r in data["project"]["optional-dependencies"]["dev"] if r.startswith("uv==")]
    payload = json.dumps([direct_requirements(root, install_set), uv_pin])
    return hashlib.sha256(payload.encode()).hexdigest()


def read_pins(path: Path) -> dict[str, tuple[str, str | None]]:
    """{canonical name: (version, marker or None)} of a lock file."""
    pins: dict[str, tuple[str, str | None]] = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            name, version, marker = match.groups()
            pins[canonicalize_name(name)] = (version, marker)
    return pins


# ------------------------------------------------------------------ generate


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        raise SystemExit("uv not found: run scripts/bootstrap (it installs the dev set)")
    return found


def compile_set(root: Path, install_set: InstallSet, constraint: Path | None) -> None:
    """Resolve one set with uv and write its lock, headed by the inputs hash."""
    out = root / install_set.filename
    print(f"[lock] resolving {install_set.name} -> {install_set.filename}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "requirements.in"
        source.write_text("\n".join(direct_requirements(root, install_set)) + "\n")
        cmd = [
            _uv(),
            "pip",
            "compile",
            str(source),
            "--universal",
            "--python-version",
            "3.11",
            "--custom-compile-command",
            "scripts/lock",
            "--no-annotate",
            "--quiet",
            "-o",
            str(Path(tmp) / "out.lock"),
        ]
        if constraint is not None:
            cmd += ["--constraint", str(constraint)]
        subprocess.run(cmd, check=True, env={**os.environ, "UV_NO_CONFIG": "1"})
        body = (Path(tmp) / "out.lock").read_text()
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"{HASH_PREFIX}{inputs_hash(root, install_set)}\n{body}")


def generate(root: Path) -> None:
    compile_set(root, DEV, None)
    for install_set in SETS[1:]:
        constraint = None if install_set.build else root / DEV.filename
        compile_set(root, install_set, constraint)


# --------------------------------------------------------------------- check


def _direct_pin_problems(root: Path, install_set: InstallSet) -> list[str]:
    pins = read_pins(root / install_set.filename)
    problems = []
    for line in direct_requirements(root, install_set):
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{install_set.filename}: {req.name} missing")
        elif not req.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{install_set.filename}: {req.name}=={pins[name][0]} but {line}")
    return problems


def _venv_problems(root: Path) -> list[str]:
    env = {key: str(value) for key, value in default_environment().items()}
    problems = []
    for name, (version, marker) in read_pins(root / DEV.filename).items():
        if marker and not Marker(marker).evaluate(env):
            continue
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f".venv: {name} not installed (dev.lock pins {version})")
            continue
        if have != version:
            problems.append(f".venv: {name} {have} installed, dev.lock pins {version}")
    return problems


def check(root: Path, *, venv: bool = True) -> list[str]:
    """Every drift between pyproject.toml, the lock files and the venv, one line each."""
    problems: list[str] = []
    for install_set in SETS:
        path = root / install_set.filename
        if not path.is_file():
            problems.append(f"{install_set.filename}: missing (run scripts/lock)")
            continue
        first = path.read_text().partition("\n")[0]
        if first != HASH_PREFIX + inputs_hash(root, install_set):
            problems.append(f"{install_set.filename}: pyproject.toml changed since it was made")
        problems += _direct_pin_problems(root, install_set)
    if problems:
        return problems
    dev = read_pins(root / DEV.filename)
    for install_set in SETS[1:3]:
        for name, pin in read_pins(root / install_set.filename).items():
            if dev.get(name, pin)[0] != pin[0]:
                problems.append(
                    f"{install_set.filename}: {name}=={pin[0]}, dev.lock {dev[name][0]}"
                )
    runtime = read_pins(root / "requirements/runtime.lock")
    problems += [
        f"requirements/runtime.lock: {name} is not a runtime package"
        for name in runtime
        if any(name == bad or name.startswith(f"{bad}-") for bad in RUNTIME_FORBIDDEN)
    ]
    if venv:
        problems += _venv_problems(root)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/lock",
        description="Regenerate the lock files in requirements/ from pyproject.toml (uv), "
        "or check them for drift (--check, offline).",
    )
    parser.add_argument("--check", action="store_true", help="check only; exit 1 on drift")
    parser.add_argument("--no-venv", action="store_true", help="with --check: skip the venv")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    if not args.check:
        generate(args.root)
    problems = check(args.root, venv=not args.no_venv)
    for problem in problems:
        print(f"[lock] {problem}", file=sys.stderr)
    if problems:
        print("[lock] drift: run scripts/lock, then scripts/bootstrap", file=sys.stderr)
        return 1
    print("[lock] lock files match pyproject.toml", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
