"""search: a tiny service of slo/search-raw.yaml, whose SLO reads the app's own metric.

The raw-query SLO counts ``search_backend_queries_total{result="ok"|"error"}``, a counter this
app declares with prometheus-client: obskit's ``/metrics`` serves the default registry, so
custom metrics need no extra setup.  A share ``SEARCH_ERROR_RATE`` (default 0.01) of backend
queries fail (a 502 to the caller); the header ``x-demo-fail: true`` / ``false`` forces it.

Run it: ``uvicorn examples.search.app:app --port 8001``.
"""

from __future__ import annotations

import os
import random

import obskit

obskit.init("search", service_version=os.environ.get("SEARCH_VERSION", "1.0.0"))

from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from prometheus_client import Counter  # noqa: E402

ERROR_RATE = float(os.environ.get("SEARCH_ERROR_RATE", "0.01"))

BACKEND_QUERIES = Counter(
    "search_backend_queries", "Queries sent to the search backend, by result.", ["result"]
)
log = obskit.get_logger("search")
app = FastAPI(title="search")


class BackendError(Exception):
    """The (simulated) search backend failed the query."""


@obskit.observe("backend.query")
async def query_backend(q: str, fail: bool) -> list[str]:
    """One backend query: timed, traced and logged on failure by ``obskit.observe``."""
    if fail:
        raise BackendError("search backend timed out")
    return [sku for sku in ("sku-1", "sku-2", "sku-3") if q.lower() in sku]


@app.get("/search")
async def search(q: str, request: Request) -> dict[str, object]:
    """Search the catalogue; a failed backend query answers 502."""
    forced = request.headers.get("x-demo-fail", "").lower()
    failed = forced == "true" if forced in ("true", "false") else random.random() < ERROR_RATE
    try:
        hits = await query_backend(q, failed)
    except BackendError:
        BACKEND_QUERIES.labels(result="error").inc()
        raise HTTPException(502, "search backend unavailable") from None
    BACKEND_QUERIES.labels(result="ok").inc()
    log.info("search answered", hits=len(hits))
    return {"query": q, "hits": hits}
