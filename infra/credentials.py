"""RedisCredentials: one random password per Redis ACL user, in one Kubernetes Secret.

The chart never creates a Secret with data; it mounts the Secret named by
`redis.auth.existingSecret`, one key per user (`redis.auth.passwordKeys`), and
Redis stores only their SHA-256 hashes. Passwords are Pulumi secrets: encrypted
in state, never printed, never passed as chart values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from infra.labels import labels, object_name
from platform_spec.model import PasswordKeys

# 32 characters of [A-Za-z0-9] is about 190 bits: enough, and safe in a URL.
PASSWORD_LENGTH = 32


def random_password(name: str, length: int, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A random [A-Za-z0-9] password, as a secret Output."""
    password = random.RandomPassword(
        name,
        length=length,
        special=False,
        min_lower=1,
        min_upper=1,
        min_numeric=1,
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
    length: int = PASSWORD_LENGTH


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
        for user in keys:
            self.passwords[user] = random_password(
                f"{name}-{user.replace('_', '-')}", args.length, child
            )
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.secret_name,
                namespace=args.namespace,
                labels=labels(args.release, "redis"),
            ),
            type="Opaque",
            string_data={keys[user]: value for user, value in self.passwords.items()},
            opts=child,
        )
        self.secret_name = secret.metadata.apply(object_name)
        self.register_outputs({"secretName": self.secret_name})
