"""The base model every spec section derives from.

Values files and stack configs are written in camelCase (the Helm convention);
Python stays snake_case. One alias generator gives both spellings from one
model, and `extra="forbid"` turns a typo into an error that names the key
instead of a silently ignored value.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

# Names that become parts of Kubernetes object names or namespaces.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]


class SpecModel(BaseModel):
    """Strict, camelCase-aliased, immutable base for every spec section."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        validate_default=True,
        use_attribute_docstrings=False,
    )
