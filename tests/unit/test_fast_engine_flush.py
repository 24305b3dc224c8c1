"""The fast engine's batched writes leave in chunks only where that was measured to pay
(workers/engine_fast.py auto_flush_chunk; docs/throughput.md, "Fourth round")."""

from __future__ import annotations

from workers.engine_fast import CHUNKED_UP_TO, EngineOptions, auto_flush_chunk


def test_it_should_chunk_from_three_to_thirty_slots_and_write_per_tick_elsewhere() -> None:
    by_concurrency = {c: auto_flush_chunk(c) for c in (1, 2, 3, 10, 20, 30, 31, 50, 200)}
    assert by_concurrency == {1: 0, 2: 0, 3: 2, 10: 4, 20: 7, 30: 10, 31: 0, 50: 0, 200: 0}
    assert auto_flush_chunk(CHUNKED_UP_TO + 1) == 0


def test_it_should_default_to_the_auto_chunk() -> None:
    assert EngineOptions().flush_chunk is None
