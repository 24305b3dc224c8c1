"""The platform image and a derived handler image, built here and run as the chart runs them.

Each container gets exactly what the rendered chart gives its pod (user, read-only
root, no capabilities, no privilege escalation, tmpfs only for the emptyDir, the
spec ConfigMap and the projected Secrets as read-only files) and talks to the
suite's TLS + ACL Redis on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from bullmq import Job, Queue
from containers import Containers
from image_builds import MB, Images
from image_stack import JOB, ImageStack

from image_build.recipes import project_version, revision, source_url
from local_stack.redis_server import RedisServer, free_port

pytestmark = [pytest.mark.image, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(900)]

ADDED_LAYERS_BUDGET = 120 * MB
FORBIDDEN = re.compile(r"^(pulumi|grpcio|protobuf|matplotlib|numpy|pytest|mypy|ruff)", re.I)
# A PEM private key: the BEGIN line, then base64 lines (not just the marker, which
# cryptography's own source carries as a constant).
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n(?:[A-Za-z0-9+/=]{16,}\r?\n)+")
DEADLINE = 90.0


def _stack(server: RedisServer, workdir: Path) -> ImageStack:
    return ImageStack(server, f"img-{uuid.uuid4().hex[:10]}", workdir)


def _config(containers: Containers, ref: str) -> dict[str, Any]:
    return dict(json.loads(containers.podman("image", "inspect", ref))[0]["Config"])


def _health(containers: Containers, name: str, port: int) -> None:
    for path in ("/healthz", "/readyz"):
        containers.wait_http(name, f"http://127.0.0.1:{port}{path}")


def _stop_cleanly(containers: Containers, name: str) -> None:
    code = containers.stop(name, grace=30)
    assert code == 0, f"exit {code} after SIGTERM:\n{containers.logs(name)[-3000:]}"


def test_it_should_build_both_images_small_labelled_and_as_the_charts_user(
    images: Images, containers: Containers, redis_server: RedisServer, workdir: Path
) -> None:
    platform, handler = images.platform, images.handler
    assert platform.added is not None and handler.added is not None
    print(
        f"\nplatform image: {platform.size / MB:.1f} MB total, {platform.added / MB:.1f} MB "
        f"above its base (budget {ADDED_LAYERS_BUDGET / MB:.0f} MB); the handler image adds "
        f"{handler.added / MB:.2f} MB; builds took {platform.seconds:.1f} + "
        f"{handler.seconds:.1f} s"
    )
    assert platform.added <= ADDED_LAYERS_BUDGET
    config = _config(containers, platform.ref)
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == project_version()
    assert labels["org.opencontainers.image.revision"] == revision()
    assert labels["org.opencontainers.image.source"] == source_url()
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]
    stack = _stack(redis_server, workdir)
    pod_contexts = [
        doc["spec"]["template"]["spec"]["securityContext"]
        for doc in stack.docs
        if doc["kind"] == "Deployment"
    ]
    users = {f"{ctx['runAsUser']}:{ctx['runAsGroup']}" for ctx in pod_contexts}
    assert users == {config["User"]}, "the image's USER must be the chart's runAsUser"
    assert _config(containers, handler.ref)["User"] == config["User"]


def test_it_should_hold_only_runtime_packages(images: Images, containers: Containers) -> None:
    user = _config(containers, images.platform.ref)["User"]
    posture = ["--read-only", "--cap-drop=all", "--user", user]
    listing = containers.exec_output(
        images.platform.ref, ["python", "-m", "pip", "list", "--format", "json"], *posture
    )
    names = sorted(p["name"] for p in json.loads(listing))
    assert "bullmq-platform" in names and "bullmq" in names
    assert [n for n in names if FORBIDDEN.match(n)] == [], names
    probe = "import importlib.util as u; print([m for m in ('infra', 'bench') if u.find_spec(m)])"
    assert containers.exec_output(images.platform.ref, ["python", "-c", probe], *posture) == "[]\n"


def _key_files(containers: Containers, ref: str, scratch: Path) -> set[str]:
    """Paths in the image's filesystem that hold a private key or look like a secret."""
    name = containers.podman("create", "--label", containers.label, ref).strip()
    found: set[str] = set()
    export = scratch / f"{name}.tar"
    try:
        containers.podman("export", "-o", str(export), name)
        with tarfile.open(export, mode="r|") as tar:
            for member in tar:
                path = "/" + member.name.removeprefix("./").lstrip("/")
                if re.search(r"(^|/)(\.state|passwords?|secrets?)(/|$)|\.key$", path):
                    found.add(path)
                if member.isfile() and member.size < 8 * MB:
                    handle = tar.extractfile(member)
                    if handle is not None and PRIVATE_KEY.search(handle.read()):
                        found.add(path)
    finally:
        containers.podman("rm", "-f", name)
        export.unlink(missing_ok=True)
    return found


def test_it_should_carry_no_key_or_password_file(
    images: Images, containers: Containers, redis_server: RedisServer, tmp_path: Path
) -> None:
    assert redis_server.tls is not None  # the detector must know a real key when it sees one
    assert PRIVATE_KEY.search(redis_server.tls.server_key.read_bytes())
    base = images.platform.base_ref
    assert base is not None
    in_base = _key_files(containers, base, tmp_path)
    added = _key_files(containers, images.handler.ref, tmp_path) - in_base
    assert added == set(), f"secret-looking files the build added: {sorted(added)}"


def test_it_should_complete_a_job_from_the_derived_images_handler_and_drain_on_sigterm(
    images: Images, containers: Containers, redis_server: RedisServer, workdir: Path
) -> None:
    stack = _stack(redis_server, workdir)
    pod, port = stack.pod(f"{stack.fullname}-worker-{stack.queue}", "worker")
    name = containers.run_pod(images.handler.ref, pod)
    try:
        _health(containers, name, port)
        asyncio.run(_complete_then_drain(containers, name, stack))
    finally:
        if containers.running(name):
            containers.stop(name, grace=1)


async def _complete_then_drain(containers: Containers, name: str, stack: ImageStack) -> None:
    queue = Queue(stack.queue, {"connection": stack.server.connection_kwargs("worker")})
    lines = [{"description": "hosting", "cents": 1250, "quantity": 3}]
    try:
        quick = await queue.add(JOB, {"invoiceId": "inv-1", "lines": lines})
        result = await _finished(queue, quick.id)
        assert result == {"invoiceId": "inv-1", "totalCents": 3750, "renderedBy": stack.queue}
        # Jobs still running when SIGTERM arrives must finish before the worker exits 0; the
        # ones not yet fetched stay waiting. Enough 3 s jobs that the worker (concurrency 2)
        # is busy whenever the signal lands, however slow the machine.
        slow = [
            (await queue.add(JOB, {"invoiceId": f"s{i}", "lines": lines, "renderSeconds": 3})).id
            for i in range(6)
        ]
        await _until(lambda: _state(queue, slow[0]), "active")
        await asyncio.to_thread(_stop_cleanly, containers, name)
        (draining,) = [e for e in _events(containers.logs(name)) if e.get("msg") == "draining"]
        assert draining["active"] >= 1, draining
        states = [await _state(queue, job_id) for job_id in slow]
        assert set(states) <= {"completed", "waiting"} and "completed" in states, states
        for job_id, state in zip(slow, states, strict=True):
            if state == "completed":
                assert (await Job.fromId(queue, job_id)).returnvalue["totalCents"] == 3750
    finally:
        await queue.close()


def _events(logs: str) -> list[dict[str, Any]]:
    """The JSON log lines of a container (BULLMQ_PLATFORM_LOG_FORMAT=json)."""
    events = []
    for line in logs.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                events.append(event)
    return events


async def _state(queue: Queue, job_id: str) -> str:
    return str(await queue.getJobState(job_id))


async def _until(probe: Any, want: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while (got := await probe()) != want:
        assert time.monotonic() < deadline, f"still {got!r}, waiting for {want!r}"
        await asyncio.sleep(0.05)


async def _finished(queue: Queue, job_id: str) -> Any:
    await _until(lambda: _state(queue, job_id), "completed")
    job = await Job.fromId(queue, job_id)
    return job.returnvalue


def test_it_should_register_schedules_and_serve_scaling_health_and_readiness(
    images: Images, containers: Containers, redis_server: RedisServer, workdir: Path
) -> None:
    stack = _stack(redis_server, workdir)
    pod, port = stack.pod(f"{stack.fullname}-scheduler", "scheduler")
    scaling_port = free_port()
    pod.env_overrides |= {
        "BULLMQ_PLATFORM_SCALING_HOST": "127.0.0.1",
        "BULLMQ_PLATFORM_SCALING_PORT": str(scaling_port),
    }
    name = containers.run_pod(images.platform.ref, pod)
    try:
        _health(containers, name, port)
        schedulers = asyncio.run(_schedulers(stack))
        assert [s["key"] for s in schedulers] == [f"{stack.queue}-nightly"]
        tls = redis_server.tls
        assert tls is not None
        # as KEDA calls it: the platform CA, a client certificate from it, the bearer token
        context = ssl.create_default_context(cafile=str(tls.ca_cert))
        context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
        scaling = containers.wait_http(
            name,
            f"https://localhost:{scaling_port}/scaling/{stack.queue}",
            headers={"Authorization": f"Bearer {stack.token}"},
            verify=context,
        )
        assert scaling.json()["desiredReplicas"] == 0
        _stop_cleanly(containers, name)
    finally:
        if containers.running(name):
            containers.stop(name, grace=1)


async def _schedulers(stack: ImageStack) -> list[dict[str, Any]]:
    """The queue's job schedulers, once the scheduler registered them."""
    queue = Queue(stack.queue, {"connection": stack.server.connection_kwargs("worker")})
    try:
        deadline = time.monotonic() + DEADLINE
        while not (found := await queue.getJobSchedulers()):
            assert time.monotonic() < deadline, "no job scheduler registered"
            await asyncio.sleep(0.1)
        return list(found)
    finally:
        await queue.close()
