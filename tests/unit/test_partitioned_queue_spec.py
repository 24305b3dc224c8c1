"""Partitioned queues (`queues[].partitions`) in the spec and the producer's partition pick."""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

import pytest
from redis.crc import key_slot

from platform_spec.model import SpecError, validate_spec
from workers.producer import PartitionPicker, partition_index

HANDLER = "workers.handlers.background_tasks"


def spec_data(*, cluster: bool = False, **orders: Any) -> dict[str, Any]:
    queues = [
        {"name": "orders", "handler": HANDLER, "jobs": [{"name": "run"}], **orders},
        {"name": "emails", "handler": HANDLER, "jobs": [{"name": "run"}]},
    ]
    data: dict[str, Any] = {"queues": queues, "schedules": [], "maintenanceQueue": "emails"}
    if cluster:
        data["redis"] = {"mode": "cluster"}
    return data


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as err:
        validate_spec(data)
    return dict(err.value.problems)


def test_it_should_keep_one_partition_as_the_queue_itself() -> None:
    spec = validate_spec(spec_data(cluster=True))
    orders = spec.queue("orders")
    assert orders.partitions == 1 and orders.partition_names == ["orders"]
    assert spec.queue_prefix("orders") == "bull:{orders}"
    assert spec.schedule_queue("orders") == "orders"


def test_it_should_name_and_tag_each_partition_and_share_one_dlq() -> None:
    spec = validate_spec(spec_data(cluster=True, partitions=4, concurrency=10))
    orders = spec.queue("orders")
    assert orders.partition_names == ["orders-p0", "orders-p1", "orders-p2", "orders-p3"]
    assert spec.queue_keys("orders-p2").wait == "bull:{orders-p2}:orders-p2:wait"
    assert spec.queue_prefix("orders-dlq") == "bull:{orders}"  # one DLQ, the queue's tag
    assert spec.schedule_queue("orders") == "orders-p0"
    # Concurrency 10 over 4 partitions: 3, 3, 2, 2 (all of it, none twice).
    assert [orders.partition_concurrency(i) for i in range(4)] == [3, 3, 2, 2]
    # Each partition its own slot; on 3 equal shards these four use more than one.
    slots = [key_slot(k.wait.encode()) for k in spec.partition_keys("orders")]
    assert len(set(slots)) == 4
    assert len({slot * 3 // 16384 for slot in slots}) > 1


def test_it_should_keep_plain_prefixes_outside_cluster_mode() -> None:
    spec = validate_spec(spec_data(partitions=2))
    assert [k.wait for k in spec.partition_keys("orders")] == [
        "bull:orders-p0:wait",
        "bull:orders-p1:wait",
    ]


def test_it_should_refuse_bad_partitions_naming_the_field() -> None:
    assert "queues[0].partitions" in problems(spec_data(partitions=0))
    assert "queues[0].partitions" in problems(spec_data(partitions=65))
    found = problems(spec_data(partitions=4, concurrency=2))
    assert "exceeds concurrency (2)" in found["queues[0].partitions"]
    found = problems(spec_data(partitions=4, rateLimit={"max": 3, "durationMs": 1000}))
    assert "rateLimit.max (3)" in found["queues[0].partitions"]
    clash = spec_data(partitions=2)
    clash["queues"][1]["name"] = "orders-p1"
    clash["maintenanceQueue"] = "orders-p1"
    assert "clash" in problems(clash)["queues[0].partitions"]


def test_it_should_refuse_a_partitioned_queue_in_a_flow_or_tag_group() -> None:
    data = spec_data(cluster=True, partitions=2)
    data["redis"]["cluster"] = {
        "tagGroups": [{"tag": "shop", "queues": ["orders", "emails"]}],
        "flows": [{"name": "checkout", "queues": ["orders", "emails"]}],
    }
    found = problems(data)
    assert "partitioned queues ['orders']" in found["redis.cluster.tagGroups[0].queues"]
    assert "spans partitioned queues" in found["redis.cluster.flows[0].queues"]


def test_it_should_pick_a_partition_by_a_stable_hash_of_the_key() -> None:
    # CRC-32 of the UTF-8 key, the same in every process and language (no PYTHONHASHSEED).
    assert partition_index("customer-42", 4) == zlib.crc32(b"customer-42") % 4
    assert partition_index("customer-42", 4) == 1  # pinned: a change would reorder keys
    picker = PartitionPicker(validate_spec(spec_data(partitions=4)).queue("orders"))
    assert {picker.pick("customer-42") for _ in range(20)} == {
        f"orders-p{zlib.crc32(b'customer-42') % 4}"
    }
    spread = Counter(picker.pick(f"customer-{i}") for i in range(400))
    assert len(spread) == 4 and min(spread.values()) > 50


def test_it_should_go_round_robin_without_a_key() -> None:
    picker = PartitionPicker(validate_spec(spec_data(partitions=4)).queue("orders"))
    picks = [picker.pick() for _ in range(8)]
    assert Counter(picks) == Counter({f"orders-p{i}": 2 for i in range(4)})
    assert picks[:4] == picks[4:]  # a fixed cycle
