"""Connection kwargs from the platform's env vars, without importing pydantic.

The bench's worker processes read the same variables as the worker runtime
(`BULLMQ_PLATFORM_REDIS_*`, password by file) but keep their imports minimal,
so the RSS they report is the engine's, not the settings machinery's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def connection_from_env() -> dict[str, Any]:
    env = os.environ
    kwargs: dict[str, Any] = {
        "host": env.get("BULLMQ_PLATFORM_REDIS_HOST", "127.0.0.1"),
        "port": int(env.get("BULLMQ_PLATFORM_REDIS_PORT", "6379")),
        "username": env.get("BULLMQ_PLATFORM_REDIS_USERNAME") or None,
    }
    if password_file := env.get("BULLMQ_PLATFORM_REDIS_PASSWORD_FILE"):
        kwargs["password"] = Path(password_file).read_text().strip()
    if ca := env.get("BULLMQ_PLATFORM_REDIS_CA_FILE"):
        kwargs.update(ssl=True, ssl_ca_certs=ca, ssl_cert_reqs="required")
    return kwargs
