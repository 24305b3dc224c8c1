"""Default alerts: each switchable, each with a runbook_url; monitors only when asked."""

from __future__ import annotations

import pytest
from chart_rendering import default_values, objects, of_kind

from platform_spec.model import Alerts

pytestmark = pytest.mark.helm
SWITCHES = [name for name, info in Alerts.model_fields.items() if info.annotation is bool]


def _alerts(**changes: object) -> list[dict]:
    values = default_values(**{"monitoring.prometheusRule": True, **changes})
    (rule,) = of_kind(objects(values), "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def test_it_should_give_every_alert_a_runbook_url() -> None:
    rules = _alerts()
    assert len({r["alert"] for r in rules}) == len(SWITCHES)
    base = Alerts().runbook_base_url
    for rule in rules:
        assert rule["annotations"]["runbook_url"].startswith(base + "#"), rule["alert"]


@pytest.mark.parametrize("switch", SWITCHES)
def test_it_should_switch_each_alert_off_on_its_own(switch: str) -> None:
    alias = "".join(p if i == 0 else p.capitalize() for i, p in enumerate(switch.split("_")))
    before = {r["alert"] for r in _alerts()}
    after = {r["alert"] for r in _alerts(**{f"monitoring.alerts.{alias}": False})}
    assert len(before - after) == 1


def test_it_should_render_monitors_only_when_enabled() -> None:
    kinds = {d["kind"] for d in objects(default_values())}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    values = default_values(**{"monitoring.serviceMonitor": True})
    assert {"ServiceMonitor", "PodMonitor"} <= {d["kind"] for d in objects(values)}


def test_it_should_alert_only_on_metrics_the_platform_exports() -> None:
    """A rule on a metric nobody exports never fires: every bullmq_* name must exist."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    exported = "".join(
        (repo / path).read_text() for path in ("workers/metrics.py", "scheduler/metrics.py")
    )
    used = {name for rule in _alerts() for name in re.findall(r"\bbullmq_[a-z_]+", rule["expr"])}
    assert used, "no alert reads a platform metric?"
    missing = sorted(name for name in used if f'"{name}"' not in exported)
    assert not missing, f"alerts read metrics nobody exports: {missing}"
