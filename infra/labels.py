"""Labels and names of the few objects the program writes itself (Namespaces, Secrets)."""

from __future__ import annotations

from typing import Any, Protocol

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


class SecretPlace(Protocol):
    """Where a generated Secret goes (the components' Args dataclasses have these)."""

    @property
    def secret_name(self) -> str: ...

    @property
    def namespace(self) -> pulumi.Input[str]: ...

    @property
    def release(self) -> str: ...


def owned_secret(
    name: str,
    place: SecretPlace,
    *,
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
            name=place.secret_name,
            namespace=place.namespace,
            labels=labels(place.release, component),
        ),
        type=secret_type,
        string_data=string_data,
        opts=opts,
    )
    return secret.metadata.apply(object_name)
