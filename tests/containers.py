"""Run images under podman the way the chart runs them, and never leave a container behind.

`ChartPod` turns one container of a rendered Deployment into `podman run`
arguments: the pod's runAsUser/runAsGroup, a read-only root filesystem, all
capabilities dropped, no privilege escalation, a tmpfs for each emptyDir (with
its sizeLimit), and read-only bind mounts for the ConfigMap and projected Secret
volumes (files owned by root, group fsGroup, mode defaultMode, as the kubelet
makes them). `Containers` starts them with a session label; a reaper process
(container_reaper.py) removes them even when pytest is killed.
Used by tests/image/ and tests/dashboard/ (tests/ is on their import path).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from image_build.tools import container_env

# How long a container may take to start, connect and serve (a loaded 2-core machine).
START_DEADLINE = 90.0
QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi)?$")
UNITS = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _bytes(quantity: str) -> int:
    match = QUANTITY.match(str(quantity))
    if not match:
        raise ValueError(f"unsupported quantity {quantity!r}")
    return int(match.group(1)) * UNITS[match.group(2)]


@dataclass
class ChartPod:
    """One container of a rendered Deployment, ready for `podman run`.

    `files(volume_name, source)` must return {relative path: bytes} for a
    ConfigMap or projected Secret volume: what the kubelet would mount there.
    """

    deployment: dict[str, Any]
    container: str
    workdir: Path
    files: Callable[[str, dict[str, Any]], dict[str, bytes]]
    env_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def pod(self) -> dict[str, Any]:
        return dict(self.deployment["spec"]["template"]["spec"])

    @property
    def spec(self) -> dict[str, Any]:
        return next(c for c in self.pod["containers"] if c["name"] == self.container)

    def command(self) -> list[str]:
        return [*self.spec.get("command", []), *self.spec.get("args", [])]

    def security_args(self) -> list[str]:
        """The pod's and container's securityContext as podman flags (refuses what it can't map)."""
        pod_ctx, ctx = self.pod["securityContext"], self.spec["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"]["drop"] == ["ALL"] and not ctx["capabilities"].get("add")
        assert pod_ctx["runAsNonRoot"] and ctx.get("privileged") is False
        uid, gid = pod_ctx["runAsUser"], pod_ctx["runAsGroup"]
        return [
            "--read-only",
            "--read-only-tmpfs=false",  # only the chart's emptyDirs are writable
            "--cap-drop=all",
            "--security-opt",
            "no-new-privileges",
            "--user",
            f"{uid}:{gid}",
            "--group-add",
            str(pod_ctx["fsGroup"]),
        ]

    def volume_args(self) -> list[str]:
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        fs_group = int(self.pod["securityContext"]["fsGroup"])
        args: list[str] = []
        for mount in self.spec["volumeMounts"]:
            volume = volumes[mount["name"]]
            if "emptyDir" in volume:
                size = _bytes(volume["emptyDir"].get("sizeLimit", "64Mi"))
                args += ["--tmpfs", f"{mount['mountPath']}:rw,size={size},mode=1777"]
                continue
            source = volume.get("configMap") or volume.get("projected")
            assert source is not None, f"volume {mount['name']} has no mapping here"
            host = self.workdir / mount["name"]
            mode = int(source.get("defaultMode", 0o644))
            _write_volume(host, self.files(mount["name"], source), mode, fs_group)
            assert mount.get("readOnly", False) or "configMap" in volume
            args += ["-v", f"{host}:{mount['mountPath']}:ro"]
        return args

    def env_args(self) -> list[str]:
        env = {e["name"]: e["value"] for e in self.spec.get("env", []) if "value" in e}
        env.update(self.env_overrides)
        return [arg for name, value in sorted(env.items()) for arg in ("-e", f"{name}={value}")]

    def run_args(self) -> list[str]:
        return [*self.security_args(), *self.volume_args(), *self.env_args()]


def _write_volume(root: Path, files: dict[str, bytes], mode: int, group: int) -> None:
    """Files as the kubelet writes a volume: owner root, group fsGroup, `mode`."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.write_bytes(content)
        os.chown(path, 0, group)
        os.chmod(path, mode)


class Containers:
    """Detached podman containers with one session label, reaped however the session ends."""

    def __init__(self) -> None:
        self.label = f"bullmq-platform-test={uuid.uuid4().hex[:12]}"
        self.env = container_env()
        reaper = Path(__file__).with_name("container_reaper.py")
        self._reaper = subprocess.Popen(
            [sys.executable, str(reaper), self.label], stdin=subprocess.PIPE, env=self.env
        )

    def podman(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        result = subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args[:2])} failed: {result.stderr}")
        return result.stdout

    def run(self, image: str, command: list[str], *extra: str) -> str:
        """Start a container (host network, runc, the session label); its name."""
        name = f"bp-test-{uuid.uuid4().hex[:10]}"
        self.podman("run", "-d", "--name", name, "--label", self.label, "--network", "host",
                    *extra, image, *command)  # fmt: skip
        return name

    def run_pod(self, image: str, pod: ChartPod) -> str:
        """Start `image` as the chart's pod would run it (its command, posture and mounts)."""
        return self.run(image, pod.command(), *pod.run_args())

    def exec_output(self, image: str, command: list[str], *extra: str) -> str:
        """Run a container to completion and return its stdout."""
        return self.podman("run", "--rm", "--label", self.label, "--network", "host",
                           *extra, image, *command)  # fmt: skip

    def running(self, name: str) -> bool:
        state = self.podman("inspect", name, "--format", "{{.State.Running}}", check=False)
        return state.strip() == "true"

    def logs(self, name: str) -> str:
        result = subprocess.run(
            ["podman", "logs", name], env=self.env, capture_output=True, text=True, check=False
        )
        return result.stdout + result.stderr

    def wait_http(self, name: str, url: str, **kwargs: Any) -> httpx.Response:
        """GET `url` until it answers 200 (the process starts, connects, then serves)."""
        deadline = time.monotonic() + START_DEADLINE
        last: object = None
        while time.monotonic() < deadline:
            if not self.running(name):
                raise AssertionError(f"{name} exited:\n{self.logs(name)[-3000:]}")
            try:
                response = httpx.get(url, timeout=5, **kwargs)
                if response.status_code == 200:
                    return response
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"{url} never answered 200 ({last}):\n{self.logs(name)[-3000:]}")

    def stop(self, name: str, grace: int = 30) -> int:
        """SIGTERM (podman stop), SIGKILL after `grace` s; the exit code."""
        self.podman("stop", "-t", str(grace), name, timeout=grace + 60)
        code = self.podman("inspect", name, "--format", "{{.State.ExitCode}}").strip()
        return int(code)

    def close(self) -> None:
        """Remove the session's containers now (the reaper would do it at exit too)."""
        assert self._reaper.stdin is not None
        self._reaper.stdin.close()
        self._reaper.wait(timeout=120)
