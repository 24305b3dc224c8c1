"""Field types, limits and the small sections the others share (Resources, Image)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    model_validator,
)

from platform_spec.base import SpecModel
from platform_spec.image_policy import PLACEHOLDER_REPOSITORY
from platform_spec.quantities import (
    K8S_CPU_PATTERN,
    K8S_MEMORY_PATTERN,
    k8s_memory_bytes,
)

# A queue name becomes part of resource names (`<release>-worker-<queue>`), so
# it must be a DNS-1123 label, short enough to leave room for the prefix.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUEUE_NAME_MAX = 40
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
ImportPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?$")]
CpuQuantity = Annotated[str, StringConstraints(pattern=K8S_CPU_PATTERN)]
MemoryQuantity = Annotated[str, StringConstraints(pattern=K8S_MEMORY_PATTERN)]
# Log levels of the worker and scheduler processes (spec, chart values and the
# BULLMQ_PLATFORM_LOG_LEVEL setting alike); logging's names, lower case.
LogLevel = Literal["debug", "info", "warning", "error"]
# The event loop of a worker process (workers/event_loop.py): spec and the
# BULLMQ_PLATFORM_EVENT_LOOP setting alike.
EventLoop = Literal["uvloop", "asyncio"]
DEFAULT_EVENT_LOOP: EventLoop = "uvloop"

# Seed 000's priority levels (lower runs first). BullMQ accepts 0..2^21.
PRIORITY_LEVELS = {"critical": 1, "high": 2, "normal": 3, "low": 4, "background": 5}
MAX_PRIORITY = 2**21


def duplicates(names: list[str]) -> list[str]:
    """Names that occur more than once, sorted."""
    return sorted({n for n in names if names.count(n) > 1})


class Resources(SpecModel):
    """CPU and memory for one container."""

    cpu_request: CpuQuantity = Field("100m", description="CPU request (Kubernetes quantity).")
    memory_request: MemoryQuantity = Field(
        "128Mi", description="Memory request (Kubernetes quantity)."
    )
    cpu_limit: CpuQuantity | None = Field(
        None, description="CPU limit; null leaves CPU unthrottled (often the better choice)."
    )
    memory_limit: MemoryQuantity = Field(
        "256Mi", description="Memory limit; the container is OOM-killed above it."
    )

    @model_validator(mode="after")
    def _request_within_limit(self) -> Resources:
        if k8s_memory_bytes(self.memory_request) > k8s_memory_bytes(self.memory_limit):
            raise ValueError(
                f"memoryRequest {self.memory_request} exceeds memoryLimit {self.memory_limit}"
            )
        return self


class Image(SpecModel):
    """The platform image: workers and scheduler run from the same one."""

    repository: str = Field(
        PLACEHOLDER_REPOSITORY,
        min_length=1,
        description="Repository of the worker/scheduler image built from this repo "
        "(scripts/image build, README 'The platform image'); the default is a placeholder "
        "that only environment dev may keep.",
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
