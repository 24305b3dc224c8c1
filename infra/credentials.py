"""RedisCredentials: one random password per Redis ACL user, in one Kubernetes Secret.

The chart never creates a Secret with data; it mounts the Secret named by
`redis.auth.existingSecret`, one key per user (`redis.auth.passwordKeys`), and
Redis stores only their SHA-256 hashes. Passwords are Pulumi secrets: encrypted
in state, never printed, never passed as chart values.

Rotation (`infra.passwordRotation`): each ACL user has two RandomPassword slots,
`a` (the original resource) and `b`. Raising `generation` by one changes the
keeper of exactly one slot, the one not in use, which Pulumi then replaces; the
Secret's key names the new one, and with `keepPrevious` the key plus
`redis.auth.previousPasswordSuffix` keeps the old one while clients move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from infra.labels import owned_secret
from platform_spec.model import PasswordKeys
from platform_spec.stack import PasswordRotation

# 32 characters of [A-Za-z0-9] is about 190 bits: enough, and safe in a URL.
PASSWORD_LENGTH = 32


def random_password(
    name: str, length: int, opts: pulumi.ResourceOptions, keeper: int = 0
) -> pulumi.Output[str]:
    """A random [A-Za-z0-9] password, as a secret Output; a changed `keeper` makes Pulumi
    replace it (a new value, for rotation)."""
    password = random.RandomPassword(
        name,
        length=length,
        special=False,
        min_lower=1,
        min_upper=1,
        min_numeric=1,
        # No keeper at 0: adding one to an existing stack would replace its password.
        keepers={"generation": str(keeper)} if keeper else None,
        opts=opts,
    )
    # The random provider marks `result` secret; say so here too, so the
    # secrecy does not depend on the provider (mocks ignore it).
    return pulumi.Output.secret(password.result)


@dataclass(frozen=True)
class RedisCredentialsArgs:
    """Inputs of RedisCredentials."""

    namespace: pulumi.Input[str]
    secret_name: str
    release: str
    password_keys: PasswordKeys = field(default_factory=PasswordKeys)
    rotation: PasswordRotation = field(default_factory=PasswordRotation)
    previous_suffix: str = "-previous"
    length: int = PASSWORD_LENGTH


# Not a Redis ACL user: the scheduler reads one token, so it is not rotated in two slots.
NOT_ROTATED = ("scaling_token",)


def slot_keepers(generation: int) -> tuple[int, int, str]:
    """(keeper of slot a, keeper of slot b, slot in use) for a rotation generation.

    Generation 0 uses slot a with no keeper (so stacks made before rotation
    existed keep their passwords); each raise moves to the other slot and
    changes only that slot's keeper, so the slot in use before stays as it was.
    """
    return generation // 2, (generation + 1) // 2, "a" if generation % 2 == 0 else "b"


class RedisCredentials(pulumi.ComponentResource):
    """Random passwords for every ACL user and the Secret that holds them."""

    TYPE = "bullmq-platform:redis:Credentials"

    secret_name: pulumi.Output[str]
    passwords: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: RedisCredentialsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # One entry per passwordKeys field: the ACL users, plus any other
        # generated credential the chart names there (e.g. the scaling token).
        keys = args.password_keys.model_dump()  # field -> Secret key
        self.passwords = {}
        previous: dict[str, pulumi.Output[str]] = {}
        keeper_a, keeper_b, in_use = slot_keepers(args.rotation.generation)
        for user in keys:
            rotated = user not in NOT_ROTATED
            base = f"{name}-{user.replace('_', '-')}"
            slots = {"a": random_password(base, args.length, child, keeper_a if rotated else 0)}
            if rotated:
                slots["b"] = random_password(f"{base}-b", args.length, child, keeper_b)
            if not rotated:
                self.passwords[user] = slots["a"]
                continue
            self.passwords[user] = slots[in_use]
            if args.rotation.keep_previous and args.rotation.generation > 0:
                previous[user] = slots["b" if in_use == "a" else "a"]
        string_data = {keys[user]: value for user, value in self.passwords.items()}
        string_data.update(
            {f"{keys[user]}{args.previous_suffix}": value for user, value in previous.items()}
        )
        self.secret_name = owned_secret(
            name,
            args,
            component="redis",
            string_data=string_data,
            opts=child,
        )
        self.register_outputs({"secretName": self.secret_name})
