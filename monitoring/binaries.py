"""Where the Debian monitoring binaries are, with an error that says how to get them."""

from __future__ import annotations

import shutil

# Installed by scripts/bootstrap, pinned to Debian bookworm's versions.
PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
}


def binary(name: str) -> str:
    """Absolute path of `name`; FileNotFoundError naming the package and scripts/bootstrap."""
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found: run scripts/bootstrap (it installs Debian's {PACKAGES[name]})"
        )
    return found
