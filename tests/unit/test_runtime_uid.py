"""One runtime UID: Chart.yaml's annotation feeds the chart's pods and every image build.

scripts/image passes it as the UID build argument (image_build/build.py); the
Containerfiles' own defaults (for a bare `buildah bud`) must say the same, and
every pod that runs a platform or dashboard image must run as it.
"""

from __future__ import annotations

import re

import pytest

from image_build.recipes import RECIPES, runtime_uid
from platform_spec import chart
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values

UID_DEFAULT = re.compile(r"^ARG UID=(\d+)$", re.M)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_containerfile_defaults_to_the_chart_s_uid_and_runs_as_it(name: str) -> None:
    text = RECIPES[name].containerfile.read_text()
    assert [int(found) for found in UID_DEFAULT.findall(text)] == [runtime_uid()]
    final_user = re.findall(r"^USER (.+)$", text, re.M)[-1]
    assert final_user == "${UID}:${UID}"


@pytest.mark.helm
def test_every_runtime_pod_runs_as_the_chart_s_uid() -> None:
    spec = PlatformSpec.model_validate(
        {"dashboard": {"enabled": True, "auth": {"existingSecret": "board-auth"}}}
    )
    values = chart_values(spec, auth_secret="auth", tls_secret="tls")
    contexts = {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["securityContext"]
        for doc in chart.objects(chart.template(values))
        if doc["kind"] == "Deployment"
    }
    assert any("dashboard" in name for name in contexts) and len(contexts) > 2
    for name, ctx in contexts.items():
        ids = (ctx["runAsUser"], ctx["runAsGroup"], ctx["fsGroup"])
        assert ids == (runtime_uid(),) * 3, name
