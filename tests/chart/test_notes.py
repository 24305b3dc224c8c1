"""NOTES.txt warns about the placeholder image repository (what `helm install` prints)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_rendering import default_values

from platform_spec.chart import CHART_DIR, helm_binary
from platform_spec.image_policy import PLACEHOLDER_REPOSITORY

pytestmark = pytest.mark.helm
WARNING = "WARNING: image.repository is the placeholder"


def notes(values: dict[str, Any], tmp_path: Path) -> str:
    """The NOTES helm 4 prints after a client-side dry-run install (no cluster needed)."""
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    install = [helm_binary(4), "install", "notes", str(CHART_DIR), "--dry-run=client"]
    result = subprocess.run(
        [*install, "--namespace", "bullmq", "--values", str(values_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.partition("NOTES:")[2]


def test_it_should_warn_when_the_placeholder_repository_is_deployed(tmp_path: Path) -> None:
    text = notes(default_values(), tmp_path)
    assert f"{WARNING} {PLACEHOLDER_REPOSITORY}" in text
    assert "scripts/image build" in text


def test_it_should_not_warn_for_a_real_repository(tmp_path: Path) -> None:
    values = default_values(**{"image.repository": "registry.acme.example/bullmq-platform"})
    text = notes(values, tmp_path)
    assert "bullmq-platform 0.1.0" in text and WARNING not in text
