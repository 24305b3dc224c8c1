"""A Pulumi stack's configuration: the spec plus the few Pulumi-only options.

Stack files (`Pulumi.<stack>.yaml`) hold two structured keys under the project
namespace: `spec` (a PlatformSpec, the same object the chart takes as values)
and `infra` (what only the Pulumi program acts on). The chart's example values
are generated from the same files, so a stack is defined once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from platform_spec.base import SpecModel
from platform_spec.model import DnsLabel, PlatformSpec, SpecError, spec_problems

PROJECT = "bullmq-platform"
REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")


class Certificates(SpecModel):
    """Validity of the certificates Pulumi generates (TLS source `generated`)."""

    ca_validity_hours: int = Field(
        5 * 365 * 24, ge=24, description="Lifetime of the self-signed CA."
    )
    server_validity_hours: int = Field(
        90 * 24, ge=24, description="Lifetime of Redis's server certificate."
    )
    early_renewal_hours: int = Field(
        30 * 24,
        ge=1,
        description="Renew when `pulumi up` runs this close to expiry. Acts only when an "
        "update runs inside the window: schedule one.",
    )


class PasswordRotation(SpecModel):
    """Rotating the generated Redis passwords without a failed connection (two `pulumi up`s)."""

    generation: int = Field(
        0,
        ge=0,
        description="Raise by one to give every Redis ACL user a new random password. Each "
        "user has two password slots and a raise re-generates the older one, so the "
        "password in use stays valid while clients move.",
    )
    keep_previous: bool = Field(
        False,
        description="Step 1 of a rotation: also keep each user's previous password in the "
        "Secret (`<key><redis.auth.previousPasswordSuffix>`), so Redis accepts both while "
        "pods re-read the new one. Step 2: set false and `pulumi up` again; Redis then "
        "refuses the old passwords.",
    )


class InfraOptions(SpecModel):
    """What only the Pulumi program acts on (not chart values)."""

    release_name: DnsLabel = Field("bullmq-platform", description="Helm release name.")
    create_namespace: bool = Field(True, description="Create the spec's namespace.")
    install_keda: bool = Field(False, description="Install KEDA with its Helm chart.")
    keda_chart_version: str = Field("2.18.1", description="Pinned KEDA chart version.")
    keda_namespace: DnsLabel = Field("keda", description="Namespace KEDA is installed into.")
    render_yaml_to_directory: str | None = Field(
        None,
        description="GitOps render mode: write manifests to this directory instead of "
        "applying them. Secrets are then referenced, never rendered.",
    )
    certificates: Certificates = Field(default_factory=Certificates)
    password_rotation: PasswordRotation = Field(default_factory=PasswordRotation)
    delete_data_on_destroy: bool | None = Field(
        None,
        description="`pulumi destroy` (or a changed spec.namespace) deletes the namespace, "
        "and with it Redis's PVC and, under the usual Delete reclaim policy, its disk. "
        "Default (null): true for environment dev, false elsewhere, where the namespace "
        "is kept in the cluster (`retainOnDelete`) and only dropped from the stack.",
    )

    @model_validator(mode="before")
    @classmethod
    def _cluster_domain_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "clusterDomain" in data:
            raise ValueError(
                "infra.clusterDomain moved to spec.clusterDomain (the chart needs it too)"
            )
        return data


class StackConfig(SpecModel):
    """One stack file: the deployment spec and the Pulumi-only options."""

    spec: PlatformSpec
    infra: InfraOptions = Field(default_factory=InfraOptions)

    def deletes_data_on_destroy(self) -> bool:
        """infra.deleteDataOnDestroy, or its default: only dev stacks throw data away."""
        explicit = self.infra.delete_data_on_destroy
        return self.spec.environment == "dev" if explicit is None else explicit


def stack_file(stack: str) -> Path:
    return REPO_ROOT / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str | Path) -> dict[str, Any]:
    """The raw `config:` objects of a stack file, keyed without the project prefix."""
    path = stack if isinstance(stack, Path) else stack_file(stack)
    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    prefix = f"{PROJECT}:"
    return {key.removeprefix(prefix): value for key, value in config.items()}


def parse_stack(raw: dict[str, Any]) -> StackConfig:
    """Validate `{spec: ..., infra: ...}`; SpecError names each field by its config path."""
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(spec_problems(exc)) from None


def load_stack(stack: str | Path) -> StackConfig:
    """Read and validate a stack file."""
    raw = read_stack_config(stack)
    return parse_stack({k: v for k, v in raw.items() if k in ("spec", "infra")})
