"""Password rotation driven by `infra.passwordRotation` (README "Rotating passwords").

Each ACL user has two RandomPassword slots; a raised `generation` changes the
keeper of the slot not in use (Pulumi replaces it: a new password) and points
the Secret's key at it. With `keepPrevious` the old password stays in the
Secret under `<key>-previous`, so Redis accepts both while clients move.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_harness import deploy_stack, stack_raw

from infra.credentials import slot_keepers
from platform_spec.model import PasswordKeys

KEYS = PasswordKeys().model_dump()
ACL_USERS = [u for u in KEYS if u != "scaling_token"]
PREFIX = "bullmq-platform-redis-auth-"


def _deploy(generation: int, keep_previous: bool) -> Any:
    raw = stack_raw("dev")
    raw.setdefault("infra", {})["passwordRotation"] = {
        "generation": generation,
        "keepPrevious": keep_previous,
    }
    return deploy_stack(raw)


def _secret(deployment: Any) -> dict[str, str]:
    secret = deployment.resources.one("kubernetes:core/v1:Secret", f"{PREFIX}secret")
    assert "stringData" in secret.secrets
    return dict(secret.inputs["stringData"])


def _keepers(deployment: Any) -> dict[str, Any]:
    passwords = deployment.resources.of_type("random:index/randomPassword:RandomPassword")
    return {p.name.removeprefix(PREFIX): p.inputs.get("keepers") for p in passwords}


def test_it_should_change_exactly_one_slot_per_generation() -> None:
    previous = slot_keepers(0)
    for generation in range(1, 7):
        now = slot_keepers(generation)
        changed = [slot for slot, i in (("a", 0), ("b", 1)) if now[i] != previous[i]]
        assert changed == [now[2]], (generation, previous, now)  # the new one is the one in use
        previous = now


def test_it_should_keep_existing_passwords_at_generation_zero() -> None:
    keepers = _keepers(_deploy(0, False))
    # No keeper on slot a: a stack made before rotation existed keeps its passwords.
    assert all(keepers[u.replace("_", "-")] is None for u in KEYS)
    secret = _secret(_deploy(0, True))  # nothing to keep yet
    assert sorted(secret) == sorted(KEYS.values())


@pytest.mark.parametrize("generation", [1, 2])
def test_it_should_hold_the_new_and_the_previous_password_during_the_overlap(
    generation: int,
) -> None:
    deployment = _deploy(generation, True)
    secret = _secret(deployment)
    in_use = slot_keepers(generation)[2]
    other = "b" if in_use == "a" else "a"
    for user in ACL_USERS:
        base = f"mockpwbullmqplatformredisauth{user}"
        assert secret[KEYS[user]] == base + ("b" if in_use == "b" else "")
        assert secret[f"{KEYS[user]}-previous"] == base + ("b" if other == "b" else "")
    keepers = _keepers(deployment)
    assert keepers[f"worker-{in_use}" if in_use == "b" else "worker"] == {
        "generation": str(slot_keepers(generation)[0 if in_use == "a" else 1])
    }
    # The scaling token is read once by the scheduler: never rotated in slots.
    assert "scaling-token-b" not in keepers and keepers["scaling-token"] is None
    assert f"{KEYS['scaling_token']}-previous" not in secret


def test_it_should_drop_the_previous_passwords_in_step_two() -> None:
    secret = _secret(_deploy(1, False))
    assert sorted(secret) == sorted(KEYS.values())
    assert secret[KEYS["worker"]] == "mockpwbullmqplatformredisauthworkerb"


def test_it_should_name_the_previous_keys_with_the_spec_suffix() -> None:
    raw = stack_raw("dev")
    raw["spec"].setdefault("redis", {}).setdefault("auth", {})["previousPasswordSuffix"] = ".old"
    raw.setdefault("infra", {})["passwordRotation"] = {"generation": 1, "keepPrevious": True}
    secret = _secret(deploy_stack(raw))
    assert "worker-password.old" in secret and "worker-password-previous" not in secret


def test_it_should_refuse_a_negative_generation_naming_the_field() -> None:
    raw = stack_raw("dev")
    raw.setdefault("infra", {})["passwordRotation"] = {"generation": -1}
    with pytest.raises(Exception, match=r"infra\.passwordRotation\.generation"):
        deploy_stack(raw)
