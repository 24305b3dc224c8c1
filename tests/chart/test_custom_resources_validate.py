"""KEDA, Prometheus Operator and cert-manager objects validate against their CRD schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from chart_rendering import STACKS, default_values, objects, stack_values

pytestmark = pytest.mark.helm
CUSTOM_GROUPS = ("keda.sh/", "monitoring.coreos.com/", "cert-manager.io/")
Validate = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _custom(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["apiVersion"].startswith(CUSTOM_GROUPS)]


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_render_custom_resources_that_match_their_crds(
    stack: str, crd_validate: Validate
) -> None:
    docs = _custom(objects(stack_values(stack)))
    assert any(d["kind"] == "ScaledObject" for d in docs)
    failures = [r for r in crd_validate(docs) if r["error"]]
    assert not failures, failures


def test_it_should_validate_the_cert_manager_certificate(crd_validate: Validate) -> None:
    values = default_values(**{"redis.tls.source": "certManager"})
    values["redis"]["tls"].update(existingSecret=None, certManagerIssuer="platform-ca")
    values["monitoring"].update(serviceMonitor=True, prometheusRule=True)
    docs = _custom(objects(values))
    assert {d["kind"] for d in docs} >= {"Certificate", "ServiceMonitor", "PrometheusRule"}
    failures = [r for r in crd_validate(docs) if r["error"]]
    assert not failures, failures


def test_it_should_catch_a_scaled_object_that_breaks_the_crd(crd_validate: Validate) -> None:
    """The validator is not a rubber stamp: a wrong type is reported with its path."""
    docs = [d for d in objects(default_values()) if d["kind"] == "ScaledObject"][:1]
    docs[0]["spec"]["minReplicaCount"] = "two"
    (result,) = crd_validate(docs)
    assert result["error"] and "minReplicaCount" in result["error"]
