"""TLS contexts for redis-py's asyncio connections: built once per process, platform CA only.

redis-py builds an `SSLContext` for every connection it opens
(`RedisSSLContext.get`), and starts from `ssl.create_default_context()`, which
loads the system CA bundle (about 150 certificates) before the CA file it was
given: 20-50 ms of CPU per connection, two of them before a worker's first
job (docs/throughput.md, "Third round"). Here the context is built the way
the fast engine builds its own (`_fast_redis.ssl_context_from_kwargs`): when a
CA file, path or data is given, only that CA is trusted (the platform's Redis
is signed by the platform CA, never by a public one); without one, the system
bundle as before. Contexts are shared by connections with the same settings,
and rebuilt when a CA, certificate or key file changes (cert-manager renews
them in place).

`install()` puts this in redis-py; workers/connection.py calls it at import,
so every client the worker makes (its own, bullmq's, the DLQ's) uses it.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from redis.asyncio.connection import RedisSSLContext

_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}


def _mtime(path: str | None) -> float | None:
    if not path:
        return None
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _key(ctx: RedisSSLContext) -> tuple[Any, ...]:
    files = (ctx.ca_certs, ctx.ca_path, ctx.certfile, ctx.keyfile)
    return (
        *files,
        *(_mtime(f) for f in files),
        ctx.ca_data,
        ctx.cert_reqs,
        ctx.check_hostname,
        tuple(ctx.include_verify_flags or ()),
        tuple(ctx.exclude_verify_flags or ()),
        ctx.min_version,
        ctx.ciphers,
        # The key's passphrase may differ between settings: keyed by identity, never stored.
        id(ctx.password) if ctx.password is not None else None,
    )


def build(ctx: RedisSSLContext) -> ssl.SSLContext:
    """redis-py's context for these settings, without the system bundle when a CA is given."""
    given = bool(ctx.ca_certs or ctx.ca_data or ctx.ca_path)
    context = ssl.create_default_context(
        cafile=ctx.ca_certs if given else None,
        capath=ctx.ca_path if given else None,
        cadata=ctx.ca_data if given else None,
    )
    context.check_hostname = ctx.check_hostname
    context.verify_mode = ctx.cert_reqs
    for flag in ctx.include_verify_flags or ():
        context.verify_flags |= flag
    for flag in ctx.exclude_verify_flags or ():
        context.verify_flags &= ~flag
    if ctx.certfile:
        context.load_cert_chain(certfile=ctx.certfile, keyfile=ctx.keyfile, password=ctx.password)
    if ctx.min_version is not None:
        context.minimum_version = ctx.min_version
    if ctx.ciphers is not None:
        context.set_ciphers(ctx.ciphers)
    return context


def _get(self: RedisSSLContext) -> ssl.SSLContext:
    if self.context is None:
        key = _key(self)
        context = _contexts.get(key)
        if context is None:
            if len(_contexts) > 64:  # files renewed many times: drop the stale ones
                _contexts.clear()
            context = _contexts[key] = build(self)
        self.context = context
    return self.context


def install() -> None:
    """Make redis-py's asyncio connections use the shared, CA-only contexts."""
    RedisSSLContext.get = _get  # type: ignore[method-assign]
