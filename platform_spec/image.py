"""Container images of the platform: the worker/scheduler image and the dashboard's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from platform_spec.base import SpecModel


class Image(SpecModel):
    """The platform image: workers and scheduler run from the same one."""

    repository: str = Field(
        "ghcr.io/example/bullmq-platform",
        min_length=1,
        description="Image repository of the worker/scheduler image built from this repo.",
    )
    tag: str = Field("0.1.0", min_length=1, description="Image tag; pin it, never `latest`.")
    digest: str | None = Field(
        None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Optional digest; when set it wins over the tag (immutable deploys).",
    )
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = Field(
        "IfNotPresent", description="Kubernetes imagePullPolicy."
    )


class DashboardImage(Image):
    """The dashboard image, built from dashboard/Containerfile."""

    repository: str = Field(
        "ghcr.io/example/bullmq-platform-dashboard",
        min_length=1,
        description="Image repository of the dashboard image built from dashboard/.",
    )
