"""Fixtures of the chart tests: the offline CRD validators (installed from npm)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from node_json import node_json

VALIDATORS = Path(__file__).parent / "crd_validators"


@pytest.fixture(scope="session")
def crd_validate() -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Validate custom resources against KEDA / Prometheus Operator / cert-manager CRDs.

    The validators come from npm (`@kubernetes-models/*`, pinned by the committed
    package-lock.json) and are installed with `npm ci` on first use.
    """
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("node and npm are needed for the CRD schema tests (apt-get install nodejs npm)")
    if not (VALIDATORS / "node_modules" / "@kubernetes-models" / "keda").is_dir():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=VALIDATORS,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stderr}"

    def validate(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        script = VALIDATORS / "validate.mjs"
        return list(node_json(script, docs, timeout=120, what="the CRD validators"))

    return validate
