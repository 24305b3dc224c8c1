"""The chart's PrometheusRule as a plain Prometheus rules file.

The rule groups come from the real `helm template` output (never re-typed), so
promtool and the live Prometheus evaluate exactly what a cluster would load.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from platform_spec import chart
from platform_spec.stack import load_stack
from platform_spec.values import chart_values, generated_secret_args

PROMETHEUS_RULE = "templates/monitoring/prometheusrule.yaml"
Rule = dict[str, Any]


def with_rules_on(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of chart values with the PrometheusRule switched on."""
    out = copy.deepcopy(values)
    out["monitoring"]["prometheusRule"] = True
    return out


def stack_values_with_rules(stack: str) -> dict[str, Any]:
    """Full chart values of a stack (its Pulumi stack file), PrometheusRule on."""
    config = load_stack(stack)
    values = chart_values(config.spec, **generated_secret_args(config.infra.release_name))
    return with_rules_on(values)


def rule_groups(values: dict[str, Any], *, helm: str | None = None) -> list[dict[str, Any]]:
    """`spec.groups` of the PrometheusRule `helm template` renders for `values`."""
    rendered = chart.template(values, show_only=PROMETHEUS_RULE, helm=helm)
    (rule,) = chart.objects(rendered)
    return list(rule["spec"]["groups"])


def alerting_rules(groups: list[dict[str, Any]]) -> list[Rule]:
    """Every alerting rule of `groups` (a queue alert once per queue)."""
    return [r for g in groups for r in g["rules"] if "alert" in r]


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (identifiers followed by `{` or `[`)."""
    functions = {"absent", "sum", "max", "min", "rate", "count", "histogram_quantile", "by"}
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", expr))
    return names - functions


def shorten_for(groups: list[dict[str, Any]], duration: str) -> list[dict[str, Any]]:
    """A copy of `groups` with every `for:` set to `duration` (live tests only: the chart
    has no such knob, and its real `for:` values are exercised by the promtool cases)."""
    out = copy.deepcopy(groups)
    for group in out:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = duration
    return out


def write_rules_file(path: Path, groups: list[dict[str, Any]]) -> Path:
    """Write `groups` as a Prometheus rules file (`groups:` at the top)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path
