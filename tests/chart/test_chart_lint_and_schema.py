"""The chart lints and the generated schema refuses bad values under helm 3 and 4."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_rendering import STACKS, stack_values

from platform_spec import chart
from platform_spec.chart import CHART_DIR
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values

pytestmark = pytest.mark.helm
HELMS = [pytest.param(4, id="helm4"), pytest.param(3, id="helm3")]


@pytest.mark.parametrize("major", HELMS)
@pytest.mark.parametrize("stack", STACKS)
def test_it_should_lint_strictly_with_every_example(major: int, stack: str, tmp_path: Path) -> None:
    values_file = tmp_path / f"{stack}-values.yaml"
    values_file.write_text(yaml.safe_dump(stack_values(stack)))
    result = subprocess.run(
        [
            chart.helm_binary(major),
            "lint",
            "--strict",
            str(CHART_DIR),
            "--values",
            str(values_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _values(**changes: Any) -> dict[str, Any]:
    values = chart_values(PlatformSpec(), auth_secret="a", tls_secret="t")
    for path, value in changes.items():
        node = values
        *parents, last = path.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    return values


BAD_VALUES = [
    ("unknown key", {"redis.maxmemoryPolicyy": "noeviction"}, "maxmemoryPolicyy"),
    ("evicting policy", {"redis.maxmemoryPolicy": "allkeys-lru"}, "maxmemoryPolicy"),
    ("wrong type", {"redis.port": "six"}, "port"),
    ("bad enum", {"redis.persistence.appendfsync": "never"}, "appendfsync"),
    ("sentinel quorum", {"redis.sentinel.quorum": 0}, "quorum"),
]


@pytest.mark.parametrize("major", HELMS)
@pytest.mark.parametrize(("case", "changes", "field"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_it_should_refuse_bad_values_naming_the_field(
    major: int, case: str, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(chart.HelmError) as caught:
        chart.template(_values(**changes), helm=chart.helm_binary(major))
    assert field in str(caught.value)
    assert "schema" in str(caught.value).lower()


@pytest.mark.parametrize("major", HELMS)
def test_it_should_render_the_same_bytes_twice(major: int) -> None:
    values = _values()
    helm = chart.helm_binary(major)
    assert chart.template(values, helm=helm) == chart.template(values, helm=helm)


def test_it_should_render_the_spec_for_the_runtime_without_secrets() -> None:
    docs = chart.objects(chart.template(_values()))
    spec_map = chart.find(docs, "ConfigMap", "bullmq-platform-spec")
    parsed = PlatformSpec.model_validate_json(spec_map["data"]["spec.json"])
    assert parsed.queues == PlatformSpec().queues
