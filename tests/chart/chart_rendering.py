"""Rendering helpers shared by the chart tests: values per stack, objects by kind."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from platform_spec import chart
from platform_spec.chart import CHART_DIR
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values

# Each stack's example values, plus prod's with redis.mode sentinel and cluster (the
# same render, schema and policy tests cover the Sentinel and Cluster StatefulSets);
# the cluster variant also partitions one queue (PARTITIONED), so they cover
# partitioned queues' triggers and keys too.
SENTINEL_SUFFIX = "+sentinel"
CLUSTER_SUFFIX = "+cluster"
STACKS = ("dev", "staging", "prod", f"prod{SENTINEL_SUFFIX}", f"prod{CLUSTER_SUFFIX}")
HELM_MAJORS = (4, 3)
PARTITIONED = {"queue": "notifications", "partitions": 3}
Obj = dict[str, Any]


def stack_values(stack: str) -> dict[str, Any]:
    """The example values file of a stack (generated from its Pulumi stack file);
    `<stack>+sentinel` (`+cluster`) is that stack's values in redis.mode sentinel (cluster)."""
    for suffix, mode in ((SENTINEL_SUFFIX, "sentinel"), (CLUSTER_SUFFIX, "cluster")):
        if stack.endswith(suffix):
            values = stack_values(stack.removesuffix(suffix))
            values["redis"]["mode"] = mode
            if mode == "cluster":
                partition(values, str(PARTITIONED["queue"]), int(PARTITIONED["partitions"]))
            return values
    path: Path = CHART_DIR / "ci" / f"{stack}-values.yaml"
    return dict(yaml.safe_load(path.read_text()) or {})


def partition(values: dict[str, Any], queue: str, partitions: int) -> dict[str, Any]:
    """`values` with `queue` spread over `partitions` partitions (queues[].partitions)."""
    (entry,) = [q for q in values["queues"] if q["name"] == queue]
    entry["partitions"] = partitions
    return values


def default_values(**changes: Any) -> dict[str, Any]:
    """The spec's defaults with Secret names filled in, plus dotted-path `changes`."""
    values = chart_values(PlatformSpec(), auth_secret="auth", tls_secret="tls")
    for path, value in changes.items():
        node = values
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return values


@functools.lru_cache(maxsize=64)
def _render_cached(values_yaml: str, major: int, release: str) -> str:
    return chart.template(
        yaml.safe_load(values_yaml), helm=chart.helm_binary(major), release=release
    )


def render(values: dict[str, Any], *, major: int = 4, release: str = "bullmq-platform") -> str:
    """`helm template` output (cached per values, helm major and release)."""
    return _render_cached(yaml.safe_dump(values, sort_keys=True), major, release)


def objects(values: dict[str, Any], **kwargs: Any) -> list[Obj]:
    """The rendered objects (a deep copy: tests may poke at them)."""
    return copy.deepcopy(chart.objects(render(values, **kwargs)))


def of_kind(docs: list[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Obj], kind: str, name: str) -> Obj:
    return chart.find(docs, kind, name)


def pod_spec(obj: Obj) -> Obj:
    """The pod spec of a workload."""
    return dict(obj["spec"]["template"]["spec"])


def containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj)
    return list(spec.get("initContainers", [])) + list(spec["containers"])
