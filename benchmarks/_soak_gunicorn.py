"""gunicorn configuration of the soak benchmark: 2 uvicorn workers, each recording its garbage
collections (``_gcwatch``) from ``post_fork`` and writing them to ``$SOAK_GC_DIR/gc-<pid>.json``
when the driver creates ``$SOAK_GC_DIR/dump`` (uvicorn's workers end by re-raising SIGTERM, so
gunicorn's ``worker_exit`` hook never runs for them).

``SOAK_GC_FREEZE=1`` calls ``gc.freeze()`` in each worker once the app is loaded
(``post_worker_init``): what obskit's ``gc_freeze`` does by itself at ``init()`` and at the
lifespan startup, for the bare side or with ``OBSKIT_GC_FREEZE=false`` (``benchmarks/README.md``).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _gcwatch

workers = int(os.environ.get("SOAK_WORKERS", "2"))
#: ``bench_soak.py --stack``: h11 on asyncio (default) or uvicorn[standard]'s httptools on uvloop.
worker_class = os.environ.get("SOAK_WORKER_CLASS", "uvicorn.workers.UvicornH11Worker")
keepalive = 75  # the load generator keeps its connections for the whole run
graceful_timeout = 20

_recorder = _gcwatch.GcRecorder()


#: ``SOAK_GC_CENSUS=1`` (diagnosis only: it lengthens the pauses it sits in): at the start of
#: every generation-1 or -2 collection, count the objects of generations 0 and 1 by type — what
#: that collection is about to promote to the old generation if they are still alive.
_census: dict[str, int] = {}


def _census_callback(phase: str, info: dict[str, int]) -> None:
    if phase != "start" or info["generation"] < 1:
        return
    for generation in (0, 1):
        for obj in gc.get_objects(generation):
            name = type(obj).__qualname__
            _census[name] = _census.get(name, 0) + 1


def _dump_when_asked(directory: Path) -> None:
    while not (directory / "dump").exists():
        time.sleep(0.5)
    _recorder.uninstall()
    _recorder.dump(directory)
    if _census:
        top = sorted(_census.items(), key=lambda kv: -kv[1])[:40]
        (directory / f"census-{os.getpid()}.json").write_text(json.dumps(top))


def post_fork(server: Any, worker: Any) -> None:
    """In the worker, before the app is loaded: record every collection from now on."""
    _recorder.install()
    if os.environ.get("SOAK_GC_CENSUS") == "1":
        gc.callbacks.append(_census_callback)
    directory = Path(os.environ["SOAK_GC_DIR"])
    threading.Thread(target=_dump_when_asked, args=(directory,), daemon=True).start()


def post_worker_init(worker: Any) -> None:
    """In the worker, the app loaded: optionally freeze what start-up allocated."""
    if os.environ.get("SOAK_GC_FREEZE") == "1":
        gc.collect()
        gc.freeze()
