"""A redis-py credential provider that reads the password file at every connect.

Why: a rotated password reaches a pod as a new file content in the mounted
Secret volume (the kubelet swaps it in place), not as a restart. redis-py calls
`get_credentials()` on each new connection, so a reconnect after a rotation
logs in with the password Redis accepts now. See README "Rotating passwords".
"""

from __future__ import annotations

from pathlib import Path

from redis.credentials import CredentialProvider


def read_password(path: Path) -> str:
    """The file's password; Secrets made with `kubectl create secret --from-file` keep a newline."""
    return path.read_text().rstrip("\r\n")


class PasswordFile(CredentialProvider):
    """Username plus the current content of a password file; never shows the password."""

    def __init__(self, path: Path, username: str | None = None) -> None:
        self.path = path
        self.username = username

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        password = read_password(self.path)
        return (self.username, password) if self.username else (password,)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        return self.get_credentials()

    def __repr__(self) -> str:
        return f"PasswordFile(path={str(self.path)!r}, username={self.username!r})"
