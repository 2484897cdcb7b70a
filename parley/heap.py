"""The garbage collector of a long-running Parley process (serve, dispatch, project, relay).

CPython collects its youngest generation every 700 allocations (of container objects, net of
frees). A process that turns each command into dozens of short-lived events, dicts and
aggregates spends a fifth to a quarter of its CPU there (`bench notifications`, embedded: 0.52
-> 0.37 ms of serve CPU per in-app notification with a threshold of 50,000;
docs/benchmarks.md). So once a process has started, what start-up made (modules, settings,
compiled templates, routers) is frozen out of every later collection, and the youngest
generation waits for `PARLEY_GC_YOUNG_THRESHOLD` allocations. Cycles are still collected:
only less often, in larger batches.
"""

from __future__ import annotations

import gc


def settle(young_threshold: int) -> None:
    """After start-up: freeze what exists and collect the young every `young_threshold`
    allocations (0: leave Python's defaults, as tests and tools do)."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, oldest)
