"""Labels and names of the few objects the program writes itself (Namespaces, Secrets)."""

from __future__ import annotations

from typing import Any

from infra.naming import chart_name


def labels(release: str, component: str) -> dict[str, str]:
    """The chart's common labels, with Pulumi as the manager."""
    return {
        "app.kubernetes.io/name": chart_name(),
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def object_name(metadata: Any) -> str:
    """`metadata.name` of an object the program named itself (for `.metadata.apply`)."""
    return str(metadata.name)
