"""Which backoff a failed job gets (job options: platform_spec.job_options).

The formula itself is Node BullMQ's, written once in
workers/bullmq_wire.backoff_delay_ms; both engines reach it through here.
"""

from __future__ import annotations

import random
from typing import Any

from platform_spec.job_options import backoff as spec_backoff_options
from platform_spec.model import Backoff
from workers.bullmq_wire import backoff_delay_ms

BUILTIN_BACKOFFS = ("fixed", "exponential")


def retry_delay_ms(
    opts_backoff: Any, spec_backoff: Backoff, attempts_made: int, rng: random.Random | None = None
) -> int:
    """Delay before the next try, `attempts_made` counting the try that just failed.

    The job's own backoff (set by its producer, Node or Python) wins; the spec's
    applies to jobs sent without one (or with a custom type this platform does
    not implement).
    """
    chosen: Any = opts_backoff
    builtin = isinstance(opts_backoff, dict) and opts_backoff.get("type") in BUILTIN_BACKOFFS
    if not builtin and not isinstance(opts_backoff, int | float):
        chosen = spec_backoff_options(spec_backoff)
    return max(backoff_delay_ms(chosen, max(attempts_made, 1), rng), 0)
