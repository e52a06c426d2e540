"""The garbage collector tuned for a long-running service with a large resident state.

Why: at start-up the service builds a heap of objects that live as long as the process
(modules, the queue file, IVR scripts and prompts, the directory, the web app). CPython's
full collection walks every tracked object, so with that heap it paused the event loop
~114 ms under load (bench/screen_pop_e2e.py), far past the screen pop's 5 ms p99.
``gc.freeze()`` moves what exists at that moment into a permanent generation that no
collection walks; the larger young threshold makes the cheap young collections less
frequent (each stays well under a millisecond at this size), and the older thresholds
make full collections rarer. Cyclic garbage is still collected: only how often changes.
"""

from __future__ import annotations

import gc
import logging
import os

log = logging.getLogger(__name__)

#: allocations minus deallocations before a young collection (CPython's default: 700)
YOUNG_THRESHOLD = 10_000
#: young collections per middle one, and middle per full one (defaults 10 and 10)
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 50


def freeze_start_up_heap() -> int:
    """Collect once, freeze everything that survives, set the thresholds above; call it
    once start-up is done (everything loaded). Returns how many objects were frozen.

    ``SWITCHBOARD_GC_DEFAULTS=1`` in the environment leaves CPython's collector as it is
    (0 frozen): how bench.capacity measures the difference.
    """
    if os.environ.get("SWITCHBOARD_GC_DEFAULTS") == "1":
        return 0
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    frozen = gc.get_freeze_count()
    log.info("start-up heap frozen", extra={"fields": {"objects": frozen}})
    return frozen
