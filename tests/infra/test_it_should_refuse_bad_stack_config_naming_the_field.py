"""A bad stack config fails at preview, before any resource, with its config path named."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from pulumi_harness import deploy_stack, stack_raw

from infra.config import ConfigError, load_stack_config

# The spec's own table of rejected inputs: every one must also fail as stack config.
_REJECTS = Path(__file__).resolve().parent.parent / "unit" / "test_spec_rejects.py"
_spec = importlib.util.spec_from_file_location("spec_rejects_table", _REJECTS)
assert _spec and _spec.loader
rejects = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rejects)


class FakeConfig:
    """Stands in for `pulumi.Config("bullmq-platform")`: objects by key."""

    def __init__(self, objects: dict[str, Any]):
        self.objects = objects

    def get_object(self, key: str) -> Any:
        value = self.objects.get(key)
        if isinstance(value, Exception):
            raise value
        return value


def problems_of(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_stack_config(FakeConfig(raw))
    return caught.value.problems


@pytest.mark.parametrize(
    ("case", "changes", "field", "message"),
    rejects.REJECTED,
    ids=[r[0] for r in rejects.REJECTED],
)
def test_it_should_name_each_rejected_spec_input_by_its_config_path(
    case: str, changes: dict[str, Any], field: str, message: str
) -> None:
    problems = problems_of({"spec": rejects.spec_with(**changes)})
    want = f"bullmq-platform:spec.{field}"
    assert any(path == want and message in text for path, text in problems), problems


PROGRAM_REJECTS = [
    (
        "generated passwords in render mode",
        {
            "infra.renderYamlToDirectory": "out",
            "spec.redis.tls": {"source": "existingSecret", "existingSecret": "t"},
        },
        "bullmq-platform:spec.redis.auth.source",
        "refused in render mode",
    ),
    (
        "generated certificate in render mode",
        {
            "infra.renderYamlToDirectory": "out",
            "spec.redis.auth": {"source": "existingSecret", "existingSecret": "a"},
        },
        "bullmq-platform:spec.redis.tls.source",
        "refused in render mode",
    ),
    (
        "generated secrets for an external Redis",
        {"spec.redis.mode": "external", "spec.redis.external": {"host": "redis.example.com"}},
        "bullmq-platform:spec.redis.auth.source",
        "external Redis",
    ),
    (
        "renewal window not below validity",
        {"infra.certificates": {"serverValidityHours": 48, "earlyRenewalHours": 48}},
        "bullmq-platform:infra.certificates.earlyRenewalHours",
        "must be below serverValidityHours",
    ),
    (
        "server certificate outliving its CA",
        {
            "infra.certificates": {
                "caValidityHours": 100,
                "serverValidityHours": 200,
                "earlyRenewalHours": 10,
            }
        },
        "bullmq-platform:infra.certificates.serverValidityHours",
        "outlive its CA",
    ),
    (
        "KEDA installed where the NetworkPolicy does not look",
        {"infra.installKeda": True, "infra.kedaNamespace": "autoscaling"},
        "bullmq-platform:infra.kedaNamespace",
        "NetworkPolicy",
    ),
    (
        "typo in an infra key",
        {"infra.installKEDA": True},
        "bullmq-platform:infra.installKEDA",
        "Extra inputs are not permitted",
    ),
    (
        "release name not a DNS label",
        {"infra.releaseName": "Bull_MQ"},
        "bullmq-platform:infra.releaseName",
        "should match pattern",
    ),
]


def _apply(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return raw


@pytest.mark.parametrize(
    ("case", "changes", "field", "message"), PROGRAM_REJECTS, ids=[r[0] for r in PROGRAM_REJECTS]
)
def test_it_should_refuse_what_the_program_cannot_deploy(
    case: str, changes: dict[str, Any], field: str, message: str
) -> None:
    problems = problems_of(_apply(stack_raw("staging"), changes))
    assert any(path == field and message in text for path, text in problems), problems


def test_it_should_require_the_spec_key() -> None:
    problems = problems_of({"infra": {}})
    assert problems[0][0] == "bullmq-platform:spec"
    assert "is required" in problems[0][1]


def test_it_should_name_a_key_that_is_not_an_object() -> None:
    problems = problems_of({"spec": ValueError("not JSON")})
    assert problems == [("bullmq-platform:spec", "is not a JSON/YAML object (ValueError)")]


def test_it_should_fail_the_program_at_preview_through_pulumi_config() -> None:
    raw = stack_raw("prod")
    raw["spec"]["queues"][2]["autoscaling"] = {"minReplicas": 5, "maxReplicas": 2}
    raw["spec"]["redis"]["maxmemoryPolicy"] = "allkeys-lru"
    with pytest.raises(ConfigError) as caught:
        deploy_stack(raw, "prod")
    text = str(caught.value)
    assert "bullmq-platform:spec.queues[2].autoscaling: minReplicas (5) exceeds" in text
    assert "bullmq-platform:spec.redis.maxmemoryPolicy: maxmemoryPolicy 'allkeys-lru'" in text
