"""Values the platform cannot run with fail `helm template`, naming the field (helm 3 and 4)."""

from __future__ import annotations

from typing import Any

import pytest
from chart_rendering import HELM_MAJORS, default_values

from platform_spec import chart
from platform_spec.model import SpecError, validate_spec

pytestmark = pytest.mark.helm
CASES = [
    ("missing auth secret", {"redis.auth.existingSecret": None}, "redis.auth.existingSecret"),
    ("missing tls secret", {"redis.tls.existingSecret": None}, "redis.tls.existingSecret"),
    ("unknown queue key", {"queues.0.concurency": 3}, "concurency"),
    ("wrong type", {"queues.0.concurrency": "many"}, "concurrency"),
    ("tls off in prod", {"environment": "prod", "redis.tls.enabled": False}, "redis.tls.enabled"),
    (
        "zero without keda",
        {"keda.enabled": False, "queues.0.autoscaling.minReplicas": 0},
        "queues[0].autoscaling.minReplicas",
    ),
    (
        "grace below timeout",
        {"queues.0.terminationGracePeriodSeconds": 100},
        "queues[0].jobTimeoutSeconds",
    ),
    (
        "flow across hash slots",
        {
            "redis.mode": "cluster",
            "redis.cluster.flows": [
                {"name": "f", "queues": ["agent-execution", "workflow-orchestration"]}
            ],
        },
        "redis.cluster.flows[0].queues",
    ),
]


@pytest.mark.parametrize("major", HELM_MAJORS)
@pytest.mark.parametrize(("case", "changes", "field"), CASES, ids=[c[0] for c in CASES])
def test_it_should_fail_naming_the_field(
    major: int, case: str, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(chart.HelmError) as caught:
        chart.template(default_values(**changes), helm=chart.helm_binary(major))
    assert field in str(caught.value)


@pytest.mark.parametrize(("case", "changes", "field"), CASES[4:], ids=[c[0] for c in CASES[4:]])
def test_it_should_agree_with_the_spec_on_cross_field_rules(
    case: str, changes: dict[str, Any], field: str
) -> None:
    """Parity: the Python spec refuses the same values, naming a field on the same path."""
    with pytest.raises(SpecError) as caught:
        validate_spec(default_values(**changes))
    paths = [path for path, _ in caught.value.problems]
    assert any(
        path.split(".")[0].split("[")[0] == field.split(".")[0].split("[")[0] for path in paths
    )


@pytest.mark.parametrize("major", HELM_MAJORS)
def test_it_should_refuse_a_release_namespace_that_is_not_the_specs(major: int) -> None:
    """The scheduler owns its schedules by `namespace` and the runtime names hosts with it:
    a release installed elsewhere would silently disagree, so the render fails naming both."""
    values = default_values(namespace="team-a")
    with pytest.raises(chart.HelmError) as caught:
        chart.template(values, namespace="team-b", helm=chart.helm_binary(major))
    message = str(caught.value)
    assert 'namespace: "team-a" differs from the release namespace "team-b"' in message
    assert chart.objects(chart.template(values, namespace="team-a", helm=chart.helm_binary(major)))
