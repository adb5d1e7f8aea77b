"""checkout: a small shop API instrumented by obskit's one line, the service of slo/checkout.yaml.

Run it::

    uvicorn examples.checkout.app:app --port 8000          # one process
    gunicorn examples.checkout.app:app -k uvicorn.workers.UvicornWorker -w 2

Metrics are served on ``OBSKIT_METRICS_PORT`` (default 9464), traces go to the OTLP endpoint of
``OTEL_EXPORTER_OTLP_ENDPOINT``, and every request writes one JSON access line on stdout.

To make the SLO dashboards and alerts interesting, two routes misbehave on purpose:

* ``GET``/``PUT /cart/{id}`` fail with a 500 (the cart store is "down") for a share
  ``CHECKOUT_ERROR_RATE`` of requests (default 0.02);
* ``POST /checkout`` is slow (``CHECKOUT_SLOW_SECONDS``, default 0.8 s, above the latency SLO's
  0.5 s) for a share ``CHECKOUT_SLOW_RATE`` of requests (default 0.05), and refused with a 429
  (too many checkouts) for a share ``CHECKOUT_THROTTLE_RATE`` (default 0) — the SLO counts
  429 as an error too.

Tests need exact numbers rather than dice: the request headers ``x-demo-fail``, ``x-demo-slow``
and ``x-demo-throttle`` (``true`` / ``false``) force the outcome of one request, whatever the
rates.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random

import obskit

# The one line: JSON logs with trace ids, RED metrics with exemplars, OpenTelemetry traces.
# It comes before FastAPI() so the app is instrumented as it is created.
obskit.init("checkout", service_version=os.environ.get("CHECKOUT_VERSION", "1.0.0"))

from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from pydantic import BaseModel  # noqa: E402

ERROR_RATE = float(os.environ.get("CHECKOUT_ERROR_RATE", "0.02"))
SLOW_RATE = float(os.environ.get("CHECKOUT_SLOW_RATE", "0.05"))
SLOW_SECONDS = float(os.environ.get("CHECKOUT_SLOW_SECONDS", "0.8"))
THROTTLE_RATE = float(os.environ.get("CHECKOUT_THROTTLE_RATE", "0"))

log = obskit.get_logger("checkout")  # structlog
payments_log = logging.getLogger("checkout.payments")  # plain stdlib logging works as well

app = FastAPI(title="checkout")

#: sku -> (name, price in cents)
PRODUCTS: dict[str, tuple[str, int]] = {
    "sku-1": ("Espresso beans, 1 kg", 2490),
    "sku-2": ("Hand grinder", 8900),
    "sku-3": ("Milk jug", 1450),
}
CARTS: dict[str, list[str]] = {}  # in memory, per worker process: good enough for a demo


class CartStoreDown(Exception):
    """The (simulated) cart database did not answer."""


class Item(BaseModel):
    sku: str


class Order(BaseModel):
    cart_id: str


def _decide(request: Request, header: str, rate: float) -> bool:
    """The request's forced outcome (``x-demo-*: true/false``), else a roll of the dice."""
    forced = request.headers.get(header, "").lower()
    if forced in ("true", "false"):
        return forced == "true"
    return random.random() < rate


@app.exception_handler(CartStoreDown)
async def cart_store_down(request: Request, exc: CartStoreDown) -> JSONResponse:
    # A handled failure still counts: the response is a 500, so the availability SLO sees it.
    return JSONResponse({"error": "cart store unavailable, try again"}, status_code=500)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness probe; obskit excludes it from metrics, traces and access logs by default."""
    return {"status": "ok"}


@app.get("/products")
async def products() -> dict[str, object]:
    """The catalogue."""
    log.info("catalogue listed", products=len(PRODUCTS))
    return {"products": [{"sku": k, "name": n, "price_cents": p} for k, (n, p) in PRODUCTS.items()]}


@app.get("/cart/{id}")
async def get_cart(id: str, request: Request) -> dict[str, object]:
    """A cart; fails with a 500 when the cart store is down."""
    # `observe` times the operation (obskit_operation_duration_seconds), opens a span and logs
    # the exception if it escapes, then lets it propagate to the exception handler above.
    with obskit.observe("cart.load", cart_id=id):
        if _decide(request, "x-demo-fail", ERROR_RATE):
            raise CartStoreDown(f"timeout loading cart {id}")
        items = CARTS.get(id, [])
    log.info("cart loaded", cart_id=id, items=len(items))
    return {"id": id, "items": items}


@app.put("/cart/{id}")
async def add_to_cart(id: str, item: Item, request: Request) -> dict[str, object]:
    """Add a product to a cart."""
    if item.sku not in PRODUCTS:
        raise HTTPException(404, f"unknown sku {item.sku}")
    with obskit.observe("cart.save", cart_id=id):
        if _decide(request, "x-demo-fail", ERROR_RATE):
            raise CartStoreDown(f"timeout saving cart {id}")
        CARTS.setdefault(id, []).append(item.sku)
    log.info("item added", cart_id=id, sku=item.sku)
    return {"id": id, "items": CARTS[id]}


@obskit.observe("payment.charge")
async def charge(cart_id: str, amount_cents: int, slow: bool) -> str:
    """Call the (simulated) payment provider: usually fast, sometimes very slow."""
    await asyncio.sleep(SLOW_SECONDS if slow else random.uniform(0.005, 0.04))
    payments_log.info("charged %.2f EUR", amount_cents / 100, extra={"cart_id": cart_id})
    return f"pay-{random.getrandbits(32):08x}"


@app.post("/checkout")
async def checkout(order: Order, request: Request) -> dict[str, object]:
    """Pay for a cart; slow when the payment provider is, refused when it throttles us."""
    if _decide(request, "x-demo-throttle", THROTTLE_RATE):
        log.warning("payment provider throttled the checkout", cart_id=order.cart_id)
        raise HTTPException(429, "too many checkouts, retry shortly", headers={"Retry-After": "1"})
    skus = CARTS.pop(order.cart_id, ["sku-1"])
    amount = sum(PRODUCTS[sku][1] for sku in skus)
    payment_id = await charge(order.cart_id, amount, _decide(request, "x-demo-slow", SLOW_RATE))
    log.info("order placed", cart_id=order.cart_id, amount_cents=amount, payment_id=payment_id)
    return {"status": "paid", "payment_id": payment_id, "amount_cents": amount}
