"""Fixtures of the chart tests: the offline CRD validators (installed from npm), and
kubernetes-validate's schema files read once."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate.utils
import pytest
from node_json import node_json

from local_stack.npm import npm_ci

VALIDATORS = Path(__file__).parent / "crd_validators"

# kubernetes_validate.validate() parses the version's _definitions.json (megabytes of
# JSON) on every call: 15 ms per object, most of a render's validation. The parsed
# schemas are only read (jsonschema never changes them), so one copy serves every call.
# Source: kubernetes_validate/utils.py, validate() and schema_contents().
kubernetes_validate.utils.schema_contents = functools.cache(  # type: ignore[method-assign]
    kubernetes_validate.utils.schema_contents
)


@pytest.fixture(scope="session")
def crd_validate() -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Validate custom resources against KEDA / Prometheus Operator / cert-manager CRDs.

    The validators come from npm (`@kubernetes-models/*`, pinned by the committed
    package-lock.json) and are installed with `npm ci` on first use.
    """
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("node and npm are needed for the CRD schema tests (apt-get install nodejs npm)")
    npm_ci(VALIDATORS, "@kubernetes-models/keda", timeout=300)

    def validate(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        script = VALIDATORS / "validate.mjs"
        return list(node_json(script, docs, timeout=120, what="the CRD validators"))

    return validate
