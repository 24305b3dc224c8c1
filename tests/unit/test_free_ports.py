"""Listening ports for test and local servers come from below the kernel's ephemeral range,
so an outgoing connection's source port cannot take one between the pick and the bind."""

from __future__ import annotations

import pytest

from local_stack.redis_server import EPHEMERAL_RANGE, PORT_SLICE_ENV, free_port


def test_it_should_pick_distinct_ports_below_the_ephemeral_range() -> None:
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(port < low for port in ports), (low, sorted(ports)[-3:])


def test_it_should_keep_each_parallel_process_to_its_own_slice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two test processes picking ports at once never pick the same one (tests/conftest.py)."""
    picks = {}
    for index in (0, 1):
        monkeypatch.setenv(PORT_SLICE_ENV, f"{index}/2")
        picks[index] = {free_port() for _ in range(50)}
    assert max(picks[0]) < min(picks[1]), (max(picks[0]), min(picks[1]))
