"""The interpreter settings of a process that runs many session threads.

An engine runs one thread per line (a thousand at C = 1,000), and every one of them waits for
the meter most of the time and then needs the interpreter lock briefly. CPython's defaults
are made for a few threads, and measured at 10,000 meters on 1,000 lines (docs/performance.md)
they cost more than the engine's own work:

* **The switch interval** (5 ms): a thread waiting for the lock wakes every interval to ask
  for it. With hundreds waiting that is tens of thousands of wake-ups a second, most of the
  process's time in the kernel. Threads here give the lock up by themselves within
  microseconds (they wait for I/O), so a longer interval only changes how long a thread that
  computes for a while (the batch writer) keeps it: 50 ms by default.
* **The cyclic garbage collector** runs every 700 allocations over the young objects and now
  and then over every object of the process (the loaded plugins, the ORM, a thousand threads'
  state): about a quarter of the process's time at that size. The engine collects once at
  start, moves what exists then out of the collector's sight (:func:`gc.freeze`: modules,
  plugins, caches built at start-up live as long as the process) and collects the young
  generation every 50,000 allocations instead.

:func:`tune` applies both and returns what undoes them (an engine restores the previous
settings when it stops, so a test process that starts and stops engines keeps its defaults).
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable

__all__ = ["tune"]

_lock = threading.Lock()
_users = 0
_saved: tuple[float, tuple[int, int, int]] | None = None


def tune(switch_interval: float, gc_threshold: int) -> Callable[[], None]:
    """Set the switch interval (seconds) and the young generation's threshold (allocations;
    0 leaves the collector as it is) for the whole process; return the function that restores
    the previous settings once the last engine that tuned has called it."""
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = (sys.getswitchinterval(), gc.get_threshold())
        _users += 1
        sys.setswitchinterval(switch_interval)
        if gc_threshold:
            gc.collect()
            gc.freeze()
            _, middle, old = gc.get_threshold()
            gc.set_threshold(gc_threshold, max(middle, 20), max(old, 100))
    restored = False

    def restore() -> None:
        global _users, _saved
        nonlocal restored
        with _lock:
            if restored:
                return
            restored = True
            _users -= 1
            if _users == 0 and _saved is not None:
                interval, thresholds = _saved
                sys.setswitchinterval(interval)
                gc.set_threshold(*thresholds)
                gc.unfreeze()
                _saved = None

    return restore
