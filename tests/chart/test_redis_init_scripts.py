"""The Redis pod's own shell scripts, run for real with `sh` on the pod's file layout."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from platform_spec.chart import CHART_DIR

FILES = CHART_DIR / "files"
RULES = "worker ~bull:* -@all +ping\nreloader -@all +ping\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _assemble(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "acl.rules").write_text(RULES)
    return subprocess.run(
        [
            "sh",
            str(FILES / "assemble-acl.sh"),
            str(tmp_path / "acl.rules"),
            str(tmp_path / "passwords"),
            str(tmp_path / "local"),
            str(tmp_path / "users.acl"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "passwords" / "previous").mkdir(parents=True)
    (tmp_path / "local").mkdir()
    (tmp_path / "passwords" / "worker").write_text("new-pw\n")
    (tmp_path / "local" / "reloader").write_text("local-pw")
    return tmp_path


def test_it_should_accept_the_current_and_the_previous_password_during_a_rotation(
    layout: Path,
) -> None:
    (layout / "passwords" / "previous" / "worker").write_text("old-pw")
    assert _assemble(layout).returncode == 0
    lines = (layout / "users.acl").read_text().splitlines()
    worker = next(line for line in lines if line.startswith("user worker "))
    assert f"resetpass #{_sha('new-pw')} #{_sha('old-pw')} " in worker
    reloader = next(line for line in lines if line.startswith("user reloader "))
    assert f"#{_sha('local-pw')}" in reloader  # a pod-local user needs no Secret key
    assert "new-pw" not in (layout / "users.acl").read_text()


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_it_should_fail_naming_the_user_and_the_key_when_a_password_is_missing(
    layout: Path, content: str | None
) -> None:
    path = layout / "passwords" / "worker"
    path.unlink()
    if content is not None:
        path.write_text(content)
    done = _assemble(layout)
    assert done.returncode != 0
    assert "ACL user 'worker'" in done.stderr
    assert "redis.auth.passwordKeys.worker" in done.stderr
    assert not (layout / "users.acl").exists()


def test_it_should_write_the_exporter_password_under_both_address_forms(tmp_path: Path) -> None:
    """redis_exporter up to 1.69 looks the address up as given; from 1.70 with the user in it."""
    (tmp_path / "pw").write_text('p"w\\1\n')
    out = tmp_path / "exporter.json"
    subprocess.run(
        [
            "sh",
            str(FILES / "exporter-password.sh"),
            str(tmp_path / "pw"),
            "rediss://localhost:6379",
            "exporter",
            str(out),
        ],
        check=True,
    )
    assert json.loads(out.read_text()) == {
        "rediss://localhost:6379": 'p"w\\1',
        "rediss://exporter@localhost:6379": 'p"w\\1',
    }
    assert out.stat().st_mode & 0o077 == 0


def test_it_should_make_pod_local_passwords_that_differ(tmp_path: Path) -> None:
    subprocess.run(
        ["sh", str(FILES / "local-passwords.sh"), str(tmp_path / "l"), "exporter", "reloader"],
        check=True,
        capture_output=True,
    )
    a, b = ((tmp_path / "l" / u).read_text() for u in ("exporter", "reloader"))
    assert len(a) == 64 and a != b
    assert (tmp_path / "l" / "exporter").stat().st_mode & 0o077 == 0
