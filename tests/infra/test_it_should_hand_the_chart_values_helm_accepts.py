"""End to end without a cluster: the values the program hands helm.v4.Chart, rendered by helm.

The mocks capture the Chart's inputs; `helm template` (helm 4 and helm 3) then
renders the local chart with exactly those values, release name and namespace,
which also runs the chart's values.schema.json and its _validate.tpl checks.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pulumi_harness import deploy_stack, stack_raw

from infra.platform import drop_none
from platform_spec import chart
from platform_spec.chart import CHART_DIR
from platform_spec.stack import load_stack
from platform_spec.values import chart_values, generated_secret_args

pytestmark = pytest.mark.helm


def test_it_should_deploy_the_local_chart_with_the_spec_as_values(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    inputs = deployment.chart.inputs
    config = load_stack(stack_name)
    assert inputs["chart"] == str(CHART_DIR)
    assert inputs["name"] == config.infra.release_name
    assert inputs["namespace"] == config.spec.namespace
    values = copy.deepcopy(inputs["values"])
    expected = drop_none(
        chart_values(config.spec, **generated_secret_args(config.infra.release_name))
    )
    # No certificate checksum annotation: it was unknown at preview (see
    # test_it_should_preview_every_chart_object_on_a_fresh_stack.py); the reloader applies renewals.
    assert values == expected
    assert "version" not in inputs and "repositoryOpts" not in inputs  # local, not fetched


@pytest.mark.parametrize("major", [4, 3])
def test_it_should_render_with_helm_and_pass_the_chart_schema(stack_name: str, major: int) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    inputs = deployment.chart.inputs
    rendered = chart.template(
        inputs["values"],
        release=inputs["name"],
        namespace=inputs["namespace"],
        helm=chart.helm_binary(major),
    )
    docs = chart.objects(rendered)
    kinds = {doc["kind"] for doc in docs}
    assert {"StatefulSet", "Service", "ConfigMap", "Deployment"} <= kinds
    queues = deployment.exports["queues"]
    workers = [d for d in docs if d["kind"] == "Deployment" and "-worker-" in d["metadata"]["name"]]
    assert sorted(w["metadata"]["name"].split("-worker-")[1] for w in workers) == sorted(queues)
    # every object lands in the stack's namespace, and the chart creates no Secret with data
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        inputs["namespace"]
    }
    assert [
        d for d in docs if d["kind"] == "Secret" and (d.get("data") or d.get("stringData"))
    ] == []
    # pods mount the Secrets Pulumi created, by name
    auth = deployment.exports["authSecretName"]
    tls = deployment.exports["tlsSecretName"]
    assert f"secretName: {auth}" in rendered and f"secretName: {tls}" in rendered


def test_it_should_refuse_values_the_schema_rejects() -> None:
    # the control: the same render path fails, naming the field, on a bad value
    deployment = deploy_stack(stack_raw("dev"))
    values = deployment.chart.inputs["values"]
    values["redis"]["maxmemoryPolicy"] = "allkeys-lru"
    with pytest.raises(chart.HelmError, match="maxmemoryPolicy"):
        chart.template(values, release="bullmq-platform", namespace="bullmq-dev")


def coalesce(defaults: Any, user: Any) -> Any:
    """Helm's merge of user values over the chart's values.yaml (null deletes a key)."""
    if not (isinstance(defaults, dict) and isinstance(user, dict)):
        return user
    out = dict(defaults)
    for key, value in user.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = coalesce(defaults.get(key), value)
    return out


def test_it_should_mean_the_same_without_the_nulls_pulumi_drops(stack_name: str) -> None:
    config = load_stack(stack_name)
    values = chart_values(config.spec, **generated_secret_args(config.infra.release_name))
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    # in a template a null and a missing key read the same; a default that comes back
    # where the spec said null does not
    assert drop_none(coalesce(defaults, drop_none(values))) == drop_none(coalesce(defaults, values))
