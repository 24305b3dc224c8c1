"""Queue `notifications`: email, webhook and Slack messages.

Email and Slack go through a pluggable `Sender` (default: `LogSender`, which
logs the message without its body); install another with `set_sender`.
Webhooks are real HTTP POSTs with timeouts: a 2xx completes, a 4xx other than
408/429 is unrecoverable (retrying cannot fix it), anything else is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated, Any, Protocol

import httpx
from pydantic import AnyHttpUrl, Field, StringConstraints

from workers.errors import UnrecoverableError
from workers.logs import get_logger
from workers.registry import JobContext, Payload, Registry

registry = Registry()
log = get_logger("notifications")
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRYABLE_STATUS = {408, 429}


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class SendEmail(Payload):
    to: list[Email] = Field(min_length=1, max_length=50)
    subject: str = Field(min_length=1, max_length=998)
    body: str = Field(max_length=100_000)


class SendSlack(Payload):
    channel: str = Field(pattern=r"^[#@]?[\w.-]{1,80}$")
    text: str = Field(min_length=1, max_length=40_000)


class SendWebhook(Payload):
    url: AnyHttpUrl
    event: str = Field(min_length=1, max_length=200)
    body: dict[str, Any] = Field(default_factory=dict)
    signing_key_ref: str | None = Field(
        None, description="Name of a key in the sender's key store; never the key itself."
    )


class Sender(Protocol):
    async def send(self, channel: str, to: list[str], subject: str, body: str) -> str: ...


class LogSender:
    """Logs the envelope (never the body) and returns a message id."""

    async def send(self, channel: str, to: list[str], subject: str, body: str) -> str:
        digest = hashlib.sha256(f"{channel}|{to}|{subject}|{body}".encode()).hexdigest()[:16]
        log.info(
            "notification sent",
            extra={"channel": channel, "recipients": len(to), "messageId": digest},
        )
        return digest


_sender: Sender = LogSender()
# Webhook signing keys by reference; a deployment fills it from its secrets.
signing_keys: dict[str, bytes] = {}


def set_sender(sender: Sender) -> None:
    global _sender
    _sender = sender


@registry.job("send-email", SendEmail)
async def send_email(payload: SendEmail, ctx: JobContext) -> dict[str, Any]:
    message_id = await _sender.send("email", list(payload.to), payload.subject, payload.body)
    return {"messageId": message_id, "recipients": len(payload.to)}


@registry.job("send-slack", SendSlack)
async def send_slack(payload: SendSlack, ctx: JobContext) -> dict[str, Any]:
    message_id = await _sender.send("slack", [payload.channel], "", payload.text)
    return {"messageId": message_id}


@registry.job("send-webhook", SendWebhook)
async def send_webhook(payload: SendWebhook, ctx: JobContext) -> dict[str, Any]:
    body = json.dumps({"event": payload.event, "data": payload.body}).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": f"{ctx.queue.name}-{ctx.job_id}",
    }
    if payload.signing_key_ref:
        key = signing_keys.get(payload.signing_key_ref)
        if key is None:
            raise UnrecoverableError(f"unknown signing key {payload.signing_key_ref!r}")
        headers["X-Signature-SHA256"] = hmac.new(key, body, hashlib.sha256).hexdigest()
    async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as client:
        response = await client.post(str(payload.url), content=body, headers=headers)
    status = response.status_code
    if 400 <= status < 500 and status not in RETRYABLE_STATUS:
        raise UnrecoverableError(f"webhook refused with HTTP {status}")
    if status >= 300:
        raise RuntimeError(f"webhook answered HTTP {status}")
    return {"status": status}
