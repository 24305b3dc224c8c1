"""One random password per ACL user, held in one Secret, and secret everywhere it flows."""

from __future__ import annotations

from pulumi_harness import deploy_stack, run_under_mocks, secret_material, stack_raw

from infra.credentials import RedisCredentials, RedisCredentialsArgs
from platform_spec.model import PasswordKeys

# every key of the auth Secret: the ACL users (worker, scheduler, keda, exporter,
# admin, dashboard; replication and sentinel for redis.mode sentinel; cluster for
# redis.mode cluster) and whatever
# else the spec lists there
USERS = list(PasswordKeys().model_dump())
ACL_USERS = {
    "worker",
    "scheduler",
    "keda",
    "exporter",
    "admin",
    "dashboard",
    "replication",
    "sentinel",
    "cluster",
}


def test_it_should_create_one_password_per_acl_user_in_one_secret(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    passwords = deployment.resources.of_type("random:index/randomPassword:RandomPassword")
    prefix = "bullmq-platform-redis-auth-"
    made = sorted(p.name.removeprefix(prefix) for p in passwords if p.name.startswith(prefix))
    # two slots per ACL user (rotation, see infra/credentials.py), one for the token
    slots = [u.replace("_", "-") for u in USERS] + [f"{u}-b" for u in ACL_USERS]
    assert made == sorted(slots)
    assert set(USERS) >= ACL_USERS
    for password in passwords:
        assert password.inputs["length"] >= 32
        assert password.inputs["special"] is False  # safe inside a redis:// URL
    secret = deployment.resources.one(
        "kubernetes:core/v1:Secret", "bullmq-platform-redis-auth-secret"
    )
    assert secret.inputs["metadata"]["name"] == "bullmq-platform-redis-auth"
    assert secret.inputs["metadata"]["namespace"] == deployment.exports["namespace"]
    assert secret.inputs["type"] == "Opaque"
    assert "stringData" in secret.secrets
    keys = PasswordKeys().model_dump()
    assert sorted(secret.inputs["stringData"]) == sorted(keys.values())
    for user, key in keys.items():
        assert secret.inputs["stringData"][key] == "mockpwbullmqplatformredisauth" + user.replace(
            "_", ""
        )


def test_it_should_use_the_spec_password_keys() -> None:
    raw = stack_raw("dev")
    raw["spec"]["redis"]["auth"] = {"passwordKeys": {"worker": "w", "keda": "k"}}
    deployment = deploy_stack(raw)
    secret = deployment.resources.one(
        "kubernetes:core/v1:Secret", "bullmq-platform-redis-auth-secret"
    )
    assert {"w", "k", "scheduler-password"} <= set(secret.inputs["stringData"])


def test_it_should_mark_every_password_secret() -> None:
    seen: dict[str, bool] = {}

    async def body() -> None:
        creds = RedisCredentials(
            "c", RedisCredentialsArgs(namespace="ns", secret_name="s", release="r")
        )
        for user, value in creds.passwords.items():
            seen[user] = await value.is_secret()

    run_under_mocks(body)
    assert seen == dict.fromkeys(USERS, True)


def test_it_should_keep_passwords_out_of_chart_values_and_plain_exports(stack_name: str) -> None:
    deployment = deploy_stack(stack_raw(stack_name), stack_name)
    assert secret_material(deployment.chart.inputs) == []
    plain = {k: v for k, v in deployment.exports.items() if k not in deployment.secret_exports}
    assert secret_material({k: v for k, v in plain.items() if k != "caCertPem"}) == []
    # the URL does carry the worker's password: so it must be a secret output
    assert "mockpw" in deployment.exports["redisUrl"]
    assert "redisUrl" in deployment.secret_exports


def test_it_should_create_no_password_when_the_secret_exists() -> None:
    raw = stack_raw("prod")
    raw["spec"]["redis"]["auth"] = {"source": "existingSecret", "existingSecret": "vault-redis"}
    deployment = deploy_stack(raw, "prod")
    assert deployment.resources.of_type("random:index/randomPassword:RandomPassword") == []
    assert deployment.chart.inputs["values"]["redis"]["auth"]["existingSecret"] == "vault-redis"
    assert deployment.exports["authSecretName"] == "vault-redis"
