"""Settings read from environment variables: a pydantic model whose fields come from
`<env_prefix><FIELD NAME>` (any case), keyword arguments winning over the environment.

This is the part of pydantic-settings the runtime used (flat fields: strings,
numbers, booleans, paths, secrets), without its import: pydantic-settings brings
its dotenv, CLI and cloud-secret sources along, about 30 ms of CPU at every
worker start for nothing the runtime reads (docs/throughput.md, "Start-up").
Values are validated as pydantic validates any string input (lax mode: "true",
"8080", "5.0", a path), so a bad value fails with the field's name.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class EnvSettings(BaseModel):
    """Base of every settings class; subclasses set `env_prefix`."""

    model_config = ConfigDict(extra="ignore", validate_default=True)
    # Environment variables of this class are `<env_prefix><FIELD>` (case-insensitive).
    env_prefix: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        env = {key.upper(): value for key, value in os.environ.items()}
        merged: dict[str, Any] = {}
        for name in cls.model_fields:
            value = env.get(f"{cls.env_prefix}{name}".upper())
            if value is not None:
                merged[name] = value
        merged.update(data)
        return merged
