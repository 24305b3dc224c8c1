"""dashboard/Containerfile builds through image_build (scripts/image build dashboard, on
the local bookworm base with Debian's nodejs) and the image serves the board as the
chart runs it: non-root as the chart's runAsUser, read-only root filesystem, no
capabilities, secrets as mounted files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from board import Board
from containers import Containers
from image_builds import build_for_test

from image_build.build import Built
from image_build.recipes import DASHBOARD, project_version, revision, source_url
from local_stack.redis_server import free_port
from platform_spec import chart
from platform_spec.values import chart_values

# The first test's fixture builds the image, and on a new machine debootstraps its Node
# base first (2-4 min, plus npm inside it): past the default 300 s under load, which
# pytest-timeout ends by exiting the xdist worker (seen on a fresh clone with a CPU hog).
# The platform image's tests allow the same (tests/image/test_platform_image.py).
pytestmark = [pytest.mark.image, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(900)]
IN_CONTAINER = {
    "spec": "/etc/bullmq-platform",
    "secrets": "/var/run/secrets/bullmq-platform",
    "auth": "/var/run/secrets/bullmq-platform-dashboard",
}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_for_test(DASHBOARD, tmp_path_factory.mktemp("dashboard-build") / "build.log")


@pytest.fixture(scope="module")
def uid(read_only_board: Board) -> int:
    """The dashboard pod's runAsUser in the rendered chart (runAsGroup and fsGroup agree)."""
    values = chart_values(read_only_board.spec, auth_secret="a", tls_secret="t")
    values["dashboard"]["auth"]["existingSecret"] = "d"
    docs = chart.objects(chart.template(values))
    deployment = next(
        d for d in docs if d["kind"] == "Deployment" and "dashboard" in d["metadata"]["name"]
    )
    ctx = deployment["spec"]["template"]["spec"]["securityContext"]
    assert ctx["runAsUser"] == ctx["runAsGroup"] == ctx["fsGroup"]
    return int(ctx["runAsUser"])


def _config(containers: Containers, ref: str) -> dict[str, Any]:
    return dict(json.loads(containers.podman("image", "inspect", ref))[0]["Config"])


def test_it_should_run_as_the_chart_s_non_root_user(
    image: Built, uid: int, containers: Containers
) -> None:
    config = _config(containers, image.ref)
    assert config["User"] == f"{uid}:{uid}", "the image's USER must be the chart's runAsUser"
    assert config["Cmd"] == ["node", "/app/src/main.mjs"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == project_version()
    assert labels["org.opencontainers.image.revision"] == revision()
    assert labels["org.opencontainers.image.source"] == source_url()
    listing = containers.exec_output(image.ref, ["ls", "/app"])
    assert listing.split() == ["node_modules", "package-lock.json", "package.json", "src"]


@pytest.fixture
def mounted(read_only_board: Board, uid: int, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """The spec, the Redis password and CA, and the basic-auth password, readable by UID."""
    server = read_only_board.server
    folders = {name: tmp_path / name for name in IN_CONTAINER}
    for folder in folders.values():
        folder.mkdir()
    shutil.copy(
        read_only_board.dashboard.env["BULLMQ_PLATFORM_SPEC_FILE"], folders["spec"] / "spec.json"
    )
    shutil.copy(server.state_dir / "passwords" / "dashboard", folders["secrets"] / "password")
    assert server.tls is not None
    shutil.copy(server.tls.ca_cert, folders["secrets"] / "ca.crt")
    (folders["auth"] / "password").write_text(read_only_board.password)
    for folder in folders.values():
        for path in [folder, *folder.iterdir()]:
            shutil.chown(path, uid, uid)
            path.chmod(0o500 if path.is_dir() else 0o400)
    yield folders


def test_it_should_serve_the_board_read_only_rootfs_no_capabilities(
    image: Built,
    uid: int,
    containers: Containers,
    read_only_board: Board,
    mounted: dict[str, Path],
) -> None:
    port = free_port()
    env = {
        "BULLMQ_PLATFORM_REDIS_HOST": "127.0.0.1",
        "BULLMQ_PLATFORM_REDIS_PORT": str(read_only_board.server.port),
        "BULLMQ_PLATFORM_REDIS_USERNAME": "dashboard",
        "BULLMQ_PLATFORM_DASHBOARD_HOST": "127.0.0.1",
        "BULLMQ_PLATFORM_DASHBOARD_PORT": str(port),
        "BULLMQ_PLATFORM_DASHBOARD_PASSWORD_FILE": f"{IN_CONTAINER['auth']}/password",
    }
    posture = [
        "--read-only",
        "--cap-drop=all",
        "--security-opt",
        "no-new-privileges",
        "--user",
        f"{uid}:{uid}",
        "--tmpfs",
        "/tmp:size=64m",
    ]
    for key, folder in mounted.items():
        posture += ["-v", f"{folder}:{IN_CONTAINER[key]}:ro"]
    for key, value in env.items():
        posture += ["-e", f"{key}={value}"]
    # Detached with the session label: the reaper removes it even if pytest is killed.
    name = containers.run(image.ref, [], *posture)
    try:
        containers.wait_http(name, f"http://127.0.0.1:{port}/readyz")
        base = f"http://127.0.0.1:{port}{read_only_board.spec.dashboard.base_path}/api/queues"
        assert httpx.get(base, timeout=30).status_code == 401
        answer = httpx.get(base, auth=("oncall", read_only_board.password), timeout=30)
        assert answer.status_code == 200
        names = {q["name"] for q in answer.json()["queues"]}
        assert names == {"reports", "reports-dlq", "mail", "mail-dlq"}
        assert read_only_board.password not in containers.logs(name)
    finally:
        containers.stop(name, grace=30)
