"""Sentinel settings: one credential path (credential_provider), nothing secret shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from platform_spec.model import PlatformSpec
from platform_spec.password_file import PasswordFile
from platform_spec.settings import RedisSettings, SentinelTarget, parse_addresses
from workers.connection import bullmq_connection_arg, connect, connect_sync
from workers.replication_ack import spec_wait_policy

SECRET = "s3cr3t-do-not-show"


def sentinel_settings(tmp_path: Path) -> RedisSettings:
    password = tmp_path / "password"
    password.write_text(SECRET + "\n")
    return RedisSettings(
        username="worker",
        password_file=password,
        secrets_dir=tmp_path,
        sentinel_hosts="s0.example:26379, s1.example:26379,s2.example:26379",
        sentinel_master="bullmq",
    )


def test_it_should_log_in_to_nodes_and_sentinels_by_credential_provider_only(
    tmp_path: Path,
) -> None:
    """Regression: redis-py raises DataError when username/password come with a
    credential_provider; the Sentinel path must use the provider alone."""
    kwargs = sentinel_settings(tmp_path).redis_kwargs()
    target = kwargs["sentinel"]
    assert isinstance(target, SentinelTarget)
    assert target.addresses == (("s0.example", 26379), ("s1.example", 26379), ("s2.example", 26379))
    for side in (kwargs, target.kwargs):
        assert "password" not in side and "username" not in side
        provider = side["credential_provider"]
        assert isinstance(provider, PasswordFile)
        assert provider.get_credentials() == ("worker", SECRET)
    assert SECRET not in repr(kwargs) and SECRET not in repr(target)


def test_it_should_build_every_client_kind_without_connecting(tmp_path: Path) -> None:
    kwargs = sentinel_settings(tmp_path).redis_kwargs()

    async def build() -> None:
        client = connect(kwargs, decode_responses=True)
        producer = bullmq_connection_arg(kwargs)
        assert not isinstance(producer, dict)
        await client.aclose()
        await producer.aclose()

    asyncio.run(build())
    connect_sync(kwargs).close()


def test_it_should_describe_the_sentinels_without_the_password(tmp_path: Path) -> None:
    text = sentinel_settings(tmp_path).describe()
    assert "sentinel" in text and "bullmq" in text and SECRET not in text


@pytest.mark.parametrize("bad", ["host", "host:", ":26379", "host:99999", "host:port"])
def test_it_should_refuse_a_bad_sentinel_address(bad: str) -> None:
    with pytest.raises(ValueError, match="not host:port"):
        parse_addresses(bad)


def test_it_should_require_a_master_name_with_sentinel_hosts() -> None:
    with pytest.raises(ValueError, match="sentinel_master is required"):
        RedisSettings(sentinel_hosts="s0:26379")


@pytest.mark.parametrize(
    ("environment", "sentinel", "expected"),
    [
        ("dev", {}, (0, 1000)),
        ("prod", {}, (1, 1000)),
        ("prod", {"waitReplicas": 0}, (0, 1000)),
        ("staging", {"waitReplicas": 2, "waitTimeoutMilliseconds": 250}, (2, 250)),
    ],
)
def test_it_should_default_wait_replicas_by_environment(
    environment: str, sentinel: dict[str, int], expected: tuple[int, int]
) -> None:
    spec = PlatformSpec.model_validate(
        {
            "environment": environment,
            "image": {"repository": "ghcr.io/acme/platform", "digest": "sha256:" + "a" * 64},
            "redis": {"mode": "sentinel", "sentinel": sentinel},
        }
    )
    assert spec_wait_policy(spec) == expected


def test_it_should_not_wait_outside_sentinel_setups() -> None:
    assert spec_wait_policy(PlatformSpec()) == (0, 0)
