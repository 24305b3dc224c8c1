"""The cyclic garbage collector paused while the worker process starts.

Why: importing pydantic, redis-py and prometheus-client and building the spec's
models allocate about 90,000 tracked objects, almost none of them garbage. The
collector runs on allocation counts, so it went over them 130 times during
those imports: 118 young, 11 middle and 1 full collection, 60-80 ms of a
0.4-0.55 s import on the development VM (docs/throughput.md, "Ninth round"). A gc.collect()
after the imports found 785 garbage objects.

`resume` freezes what start-up built (`gc.freeze`: moved to a generation no
collection visits), so later full collections skip the modules, classes,
validators and spec the process keeps to its end. The price: start-up's few
garbage objects (the 785) are never freed. A collection before the freeze would
free them, but it would cost a full collection's 30-60 ms back.
https://docs.python.org/3/library/gc.html#gc.freeze (whose docs give fork as the
usual reason to freeze)
"""

from __future__ import annotations

import gc


def pause() -> None:
    """Before the heavy imports (workers/__main__.py)."""
    gc.disable()


def resume() -> None:
    """Once the process is set up: start-up's objects frozen, the collector back on.
    Safe to call when nothing was paused."""
    gc.freeze()
    gc.enable()
