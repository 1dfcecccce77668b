"""Imported by the scan's forkserver, once, before it forks the first worker (see
``analyzer.commands.scan.pool``): every rule module, built-in and plugin, through the
registry's discovery, whose result is cached and so inherited by every worker (a worker
then selects its rules without importing or discovering anything).

Then the objects made so far are moved out of the garbage collector's reach
(``gc.freeze``, the documented way for a server that forks): they live as long as
the process anyway, and a worker's full collection would otherwise walk them all and
write to every page they are on, making each worker copy memory it shares with the
forkserver.

The forkserver stops only on ``ImportError`` of a preloaded module, so nothing may
escape from here: a rule that fails to import is reported by the worker that loads it.
"""
from __future__ import annotations

import gc

try:
    from analyzer.linter.registry import discover

    discover()
except Exception:  # noqa: BLE001, S110 - preloading is only a speed-up (see above)
    pass
gc.freeze()
