"""Every page, asset and API route is behind authentication; only the probes are open.
Basic auth by default; with auth mode proxyHeader, only requests carrying the proxy's
user header get in."""

from __future__ import annotations

import json

import httpx
import pytest
from board import Board, wait_until

from local_stack.processes import dashboard_process, write_spec_file

pytestmark = [pytest.mark.redis, pytest.mark.browser]


def test_it_should_answer_401_in_the_browser_without_or_with_wrong_credentials(
    read_only_board: Board,
) -> None:
    anonymous = read_only_board.drive("status", login=False)
    assert anonymous["status"] == 401
    assert anonymous["authenticate"].startswith("Basic realm=")
    wrong = read_only_board.drive("status", credentials={"username": "oncall", "password": "x"})
    assert wrong["status"] == 401
    right = read_only_board.drive("status")
    assert right["status"] == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("GET", "queue/reports"),
        ("GET", "api/queues"),
        ("GET", "api/redis/stats"),
        ("GET", "api/queues/reports/1"),
        ("GET", "static/images/logo.svg"),
        ("PUT", "api/queues/reports/retry/failed"),
    ],
)
def test_it_should_refuse_every_route_without_the_right_user_and_password(
    read_only_board: Board, method: str, path: str
) -> None:
    url = read_only_board.url + path
    password = read_only_board.password
    for auth in (None, ("oncall", "wrong"), ("someone", password), ("oncall", password + "x")):
        response = httpx.request(method, url, auth=auth, timeout=30)
        assert response.status_code == 401, (auth and auth[0], response.text)
        assert password not in response.text
    if method == "GET":  # the right credentials get past the gate (404: no job 1 here)
        assert httpx.get(url, auth=("oncall", password), timeout=30).status_code in (200, 404)


def test_it_should_leave_only_the_probes_open(read_only_board: Board) -> None:
    for path in ("/healthz", "/readyz"):
        response = httpx.get(read_only_board.dashboard.url(path), timeout=30)
        assert response.status_code == 200
        assert len(response.text) < 20  # says nothing about the queues


def test_it_should_trust_only_the_auth_proxy_header_in_proxy_mode(read_only_board: Board) -> None:
    spec = read_only_board.spec.model_copy(
        update={
            "dashboard": read_only_board.spec.dashboard.model_copy(
                update={
                    "auth": read_only_board.spec.dashboard.auth.model_copy(
                        update={"mode": "proxyHeader"}
                    )
                }
            )
        }
    )
    state = read_only_board.server.state_dir.parent / "proxy-mode"
    spec_file = write_spec_file(state / "spec.json", spec)
    # No basic-auth password file at all: proxy mode must not need one.
    proxied = dashboard_process(
        read_only_board.server, spec_file, state / "logs", password_file=state / "absent"
    ).start()
    try:
        url = proxied.url(spec.dashboard.base_path + "/api/queues")
        wait_until(
            lambda: proxied.probe("/readyz") == 200, "the proxied dashboard is ready", proxied
        )
        assert httpx.get(url, timeout=30).status_code == 401
        assert httpx.get(url, headers={"X-Forwarded-User": ""}, timeout=30).status_code == 401
        answer = httpx.get(url, headers={"X-Forwarded-User": "alice@example.com"}, timeout=30)
        assert answer.status_code == 200
        assert {q["name"] for q in json.loads(answer.text)["queues"]} >= {"reports", "mail"}
    finally:
        proxied.terminate(timeout=15)
