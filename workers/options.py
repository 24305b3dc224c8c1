"""Retry delays as the runtime computes them (job options: platform_spec.job_options)."""

from __future__ import annotations

import random
from typing import Any

from platform_spec.model import Backoff


def retry_delay_ms(
    opts_backoff: Any, spec_backoff: Backoff, attempts_made: int, rng: random.Random | None = None
) -> int:
    """Delay before the next try after `attempts_made` tries, with jitter.

    The job's own backoff (set by its producer, Node or Python) wins; the spec's
    applies to jobs sent without one. Jitter takes a random fraction off the
    delay, as Node BullMQ does: delay * (1 - jitter) .. delay.
    """
    kind, delay, jitter = spec_backoff.type, spec_backoff.delay_ms, spec_backoff.jitter
    if isinstance(opts_backoff, int | float):
        kind, delay, jitter = "fixed", int(opts_backoff), 0.0
    elif isinstance(opts_backoff, dict) and opts_backoff.get("type") in ("fixed", "exponential"):
        kind = opts_backoff["type"]
        delay = int(opts_backoff.get("delay") or 0)
        jitter = float(opts_backoff.get("jitter") or 0.0)
    base = delay if kind == "fixed" else round(2 ** max(attempts_made - 1, 0) * delay)
    if jitter:
        base = int((rng or random).random() * base * jitter + base * (1 - jitter))
    return max(int(base), 0)
