"""Listening ports for test and local servers come from below the kernel's ephemeral range,
so an outgoing connection's source port cannot take one between the pick and the bind."""

from __future__ import annotations

from local_stack.redis_server import EPHEMERAL_RANGE, free_port


def test_it_should_pick_distinct_ports_below_the_ephemeral_range() -> None:
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(port < low for port in ports), (low, sorted(ports)[-3:])
