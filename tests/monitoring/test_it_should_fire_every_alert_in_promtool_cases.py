"""Every alert of the rendered PrometheusRule, for every stack, fires in a promtool case
and stays silent in its near misses; every expression passes `promtool check rules`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_rendering import CLUSTER_SUFFIX, SENTINEL_SUFFIX, STACKS
from promtool_cases import cases_for

from monitoring.binaries import binary
from monitoring.rules import alerting_rules, rule_groups, stack_values_with_rules, write_rules_file
from platform_spec.model import PlatformSpec

pytestmark = pytest.mark.helm
README = Path(__file__).resolve().parents[2] / "README.md"


def _groups(stack: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Values and rule groups of a stack; `<stack>+sentinel` (`+cluster`) is it in
    redis.mode sentinel (cluster), as the chart tests render it."""
    for suffix, mode in ((SENTINEL_SUFFIX, "sentinel"), (CLUSTER_SUFFIX, "cluster")):
        if stack.endswith(suffix):
            values = stack_values_with_rules(stack.removesuffix(suffix))
            values["redis"]["mode"] = mode
            return values, rule_groups(values)
    values = stack_values_with_rules(stack)
    return values, rule_groups(values)


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_pass_promtool_check_rules(stack: str, tmp_path: Path) -> None:
    _, groups = _groups(stack)
    rules = write_rules_file(tmp_path / "rules.yaml", groups)
    result = subprocess.run(
        [binary("promtool"), "check", "rules", str(rules)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in result.stdout


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_fire_each_alert_and_stay_silent_on_near_misses(
    stack: str, tmp_path: Path
) -> None:
    values, groups = _groups(stack)
    rules = alerting_rules(groups)
    spec = PlatformSpec.model_validate(values)
    cases = cases_for(rules, values["namespace"], spec.queue_keys)
    firing = [c for c in cases if c.fires]
    silent = [c for c in cases if not c.fires]
    # Each rendered alert (a queue alert once per queue) has a firing case and a near miss.
    instances = {(r["alert"], r.get("labels", {}).get("queue")) for r in rules}
    assert len(instances) == len(rules)
    assert len(firing) >= len(rules) and len(silent) >= len(rules)
    write_rules_file(tmp_path / "rules.yaml", groups)
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yaml"],
                "evaluation_interval": "1m",
                "tests": [c.as_promtool() for c in cases],
            },
            sort_keys=False,
        )
    )
    result = subprocess.run(
        [binary("promtool"), "test", "rules", str(tests)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    print(f"{stack}: {len(rules)} alert rules, {len(firing)} fire cases, {len(silent)} silent")


@pytest.mark.parametrize("stack", STACKS)
def test_it_should_link_every_alert_to_its_runbook_section(stack: str) -> None:
    anchors = {
        "#" + title.strip().lower()
        for title in re.findall(r"^### (\w+)$", README.read_text(), re.MULTILINE)
    }
    for rule in alerting_rules(_groups(stack)[1]):
        anchor = "#" + rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor in anchors, f"{rule['alert']}: {anchor} is not a README section"
        assert anchor == "#" + rule["alert"].lower()


@pytest.mark.parametrize("key_prefix", [None, "my.app"])
def test_it_should_record_jobs_per_queue_and_state(tmp_path: Path, key_prefix: str | None) -> None:
    """The dashboard's `bullmq:queue_jobs` splits the exporter's key sizes by queue and state,
    a DLQ (`<queue>-dlq`) being a queue of its own. A `.` in keyPrefix is a literal dot:
    `my.app` does not count the keys of `myXapp`."""
    values = stack_values_with_rules("staging")
    if key_prefix is not None:
        values["keyPrefix"] = key_prefix
    groups = rule_groups(values)
    ns, prefix = values["namespace"], values["keyPrefix"]
    write_rules_file(tmp_path / "rules.yaml", groups)
    size = 'redis_key_size{{namespace="{ns}", db="db0", key="{key}"}}'
    series = {
        f"{prefix}:email:wait": 3,
        f"{prefix}:email:prioritized": 4,
        f"{prefix}:email-dlq:wait": 2,
        f"{prefix}:my-queue:failed": 1,
    }
    others = {key.replace(".", "X"): 50 for key in series if "." in key}
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": size.format(ns=ns, key=k), "values": f"{v}x5"}
                    for k, v in {**series, **others}.items()
                ],
                "promql_expr_test": [
                    {
                        "expr": "bullmq:queue_jobs",
                        "eval_time": "2m",
                        "exp_samples": [
                            {
                                "labels": (
                                    f'bullmq:queue_jobs{{namespace="{ns}", '
                                    f'queue="{k.split(":")[1]}", state="{k.split(":")[2]}"}}'
                                ),
                                "value": v,
                            }
                            for k, v in series.items()
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [binary("promtool"), "test", "rules", "tests.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
