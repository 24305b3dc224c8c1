"""Container resources: one shape shared by every spec section that runs a container."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from platform_spec.base import SpecModel
from platform_spec.quantities import K8S_CPU_PATTERN, K8S_MEMORY_PATTERN, k8s_memory_bytes

CpuQuantity = Annotated[str, StringConstraints(pattern=K8S_CPU_PATTERN)]
MemoryQuantity = Annotated[str, StringConstraints(pattern=K8S_MEMORY_PATTERN)]


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
