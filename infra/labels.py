"""Labels and names of the few objects the program writes itself (Namespaces, Secrets)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

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


def owned_secret(
    name: str,
    *,
    secret_name: str,
    namespace: pulumi.Input[str],
    release: str,
    component: str,
    string_data: dict[str, Any],
    opts: pulumi.ResourceOptions,
    secret_type: str = "Opaque",
) -> pulumi.Output[str]:
    """A Secret the program generates (passwords, certificates), labelled like the
    chart's objects; returns its name once created (what the chart values reference)."""
    secret = k8s.core.v1.Secret(
        f"{name}-secret",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=secret_name, namespace=namespace, labels=labels(release, component)
        ),
        type=secret_type,
        string_data=string_data,
        opts=opts,
    )
    return secret.metadata.apply(object_name)
