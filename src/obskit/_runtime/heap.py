"""Start-up objects out of the cyclic garbage collector's reach (``gc_freeze``, issue #10).

A full (generation-2) collection traverses every tracked object of the process, so its pause
grows with the heap.  Nearly all of a service's heap is made at start-up and lives until exit:
modules, classes, the OpenTelemetry SDK, protobuf, prometheus-client, structlog, obskit's state,
then the application's routes and models.  Traversing it on every full collection finds nothing
to free.  :func:`freeze` collects once and then ``gc.freeze()``s what is left (CPython's
permanent generation: still reference-counted and freed when its last reference goes, never
traversed again).  Objects made later, every request's included, are collected as usual.

Two points, each once per process (``docs/runtime.md``, "Garbage collection"):

* ``"init"`` — the end of ``init()``, before the application is imported and, with a
  pre-forking server's ``--preload``, before it forks (CPython's documented freeze point: the
  workers then share those pages copy-on-write);
* ``"application started"`` — an ASGI server's ``lifespan.startup.complete``, sent before it
  serves its first request: the application's own start-up heap.

The price: a reference cycle among frozen objects that becomes garbage later is never freed
(a start-up object thrown away in a cycle), and each point costs one full collection before
the service serves.
"""

from __future__ import annotations

import gc
import logging

__all__ = ["freeze"]

_done: set[str] = set()
_log = logging.getLogger("obskit")


def freeze(point: str) -> bool:
    """``gc.collect()`` then ``gc.freeze()``, once per ``point``; True if it ran now."""
    if point in _done:
        return False
    _done.add(point)
    gc.collect()
    gc.freeze()
    _log.debug(
        "start-up heap frozen", extra={"point": point, "frozen_objects": gc.get_freeze_count()}
    )
    return True
