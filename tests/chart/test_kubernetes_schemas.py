"""Every built-in object validates strictly against the Kubernetes OpenAPI schemas."""

from __future__ import annotations

import kubernetes_validate
import pytest
from chart_rendering import HELM_MAJORS, STACKS, objects, stack_values

pytestmark = pytest.mark.helm
# The oldest version the chart supports well and the newest the validator ships.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CUSTOM_GROUPS = ("keda.sh/", "monitoring.coreos.com/", "cert-manager.io/")


@pytest.mark.parametrize("major", HELM_MAJORS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("stack", STACKS)
def test_it_should_validate_every_builtin_object(stack: str, version: str, major: int) -> None:
    docs = [
        d
        for d in objects(stack_values(stack), major=major)
        if not d["apiVersion"].startswith(CUSTOM_GROUPS)
    ]
    assert len(docs) > 10
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert not errors, errors


def test_it_should_reject_an_unknown_field_strictly() -> None:
    """Strict mode is on: a misspelt field would not slip through."""
    (deployment, *_) = [d for d in objects(stack_values("prod")) if d["kind"] == "Deployment"]
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSecond"] = 30
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)
