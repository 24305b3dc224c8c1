"""Same objects from helm template, Argo CD and Pulumi's helm.v4.Chart: no cluster input."""

from __future__ import annotations

import re

import pytest
from chart_rendering import default_values, named, objects, render, stack_values

from platform_spec.chart import CHART_DIR

pytestmark = pytest.mark.helm
FORBIDDEN = re.compile(
    r"\b(lookup|randAlpha|randAlphaNum|randAscii|randNumeric|randBytes|uuidv4|now|genCA|"
    r"genPrivateKey|genSelfSignedCert|genSignedCert)\b|\.Capabilities|helm\.sh/hook"
)


def test_it_should_use_no_cluster_lookups_randomness_clock_or_hooks() -> None:
    offenders = [
        f"{path.relative_to(CHART_DIR)}: {match.group(0)}"
        for path in (CHART_DIR / "templates").rglob("*")
        if path.is_file()
        for match in FORBIDDEN.finditer(path.read_text())
    ]
    assert not offenders, offenders
    for stack in ("dev", "staging", "prod"):
        assert "helm.sh/hook" not in render(stack_values(stack))


@pytest.mark.parametrize("major", (4, 3))
def test_it_should_render_the_same_bytes_with_helm_3_and_4(major: int) -> None:
    values = stack_values("prod")
    assert render(values, major=major) == render(values, major=4)


def _annotations(docs: list[dict], kind: str, name: str) -> dict[str, str]:
    return dict(named(docs, kind, name)["spec"]["template"]["metadata"]["annotations"])


def test_it_should_roll_pods_when_the_spec_or_a_secret_name_changes() -> None:
    base = objects(default_values())
    spec_changed = objects(default_values(**{"queues.0.concurrency": 7}))
    secret_changed = objects(default_values(**{"redis.auth.existingSecret": "auth-v2"}))
    for kind, name in (
        ("Deployment", "bullmq-platform-worker-notifications"),
        ("Deployment", "bullmq-platform-scheduler"),
    ):
        before = _annotations(base, kind, name)
        assert _annotations(spec_changed, kind, name)["checksum/spec"] != before["checksum/spec"]
        after = _annotations(secret_changed, kind, name)
        assert after["checksum/secrets"] != before["checksum/secrets"]
    redis = ("StatefulSet", "bullmq-platform-redis")
    assert (
        _annotations(secret_changed, *redis)["checksum/secrets"]
        != _annotations(base, *redis)["checksum/secrets"]
    )
    with_admin = objects(default_values(**{"redis.auth.adminEnabled": True}))
    assert (
        _annotations(with_admin, *redis)["checksum/config"]
        != _annotations(base, *redis)["checksum/config"]
    )


def test_it_should_set_the_namespace_on_every_object() -> None:
    docs = objects(stack_values("staging"))
    assert {d["metadata"].get("namespace") for d in docs} == {"bullmq-staging"}
