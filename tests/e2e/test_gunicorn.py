"""The example under gunicorn with two uvicorn workers: Prometheus counts every request once."""

from __future__ import annotations

import importlib.util
import time
from collections import Counter

from examples.stack import Prometheus
from tests.support import OtlpReceiver, ServerProcess, free_port, gunicorn_command

from obskit import conventions as c

from . import _traffic as t
from ._spec import REPO
from .conftest import APP_ENV, traffic_mix

#: The standalone ``uvicorn-worker`` package's class when installed (uvicorn deprecated its own
#: ``uvicorn.workers``), else uvicorn's.
UVICORN_WORKER = (
    "uvicorn_worker.UvicornWorker"
    if importlib.util.find_spec("uvicorn_worker") is not None
    else "uvicorn.workers.UvicornWorker"
)
BY_SERIES = f"sum by ({c.LABEL_METHOD}, {c.LABEL_ROUTE}, {c.LABEL_STATUS})"


def _seen(prom: Prometheus) -> Counter[tuple[str, str, int]]:
    result = prom.query(f'{BY_SERIES} ({c.HTTP_DURATION_COUNT}{{job="checkout"}})')
    return Counter(
        {
            (
                r["metric"][c.LABEL_METHOD],
                r["metric"][c.LABEL_ROUTE],
                int(r["metric"][c.LABEL_STATUS]),
            ): int(float(r["value"][1]))
            for r in result
        }
    )


def test_two_gunicorn_workers_counts_equal_requests_sent(prometheus_bin: str) -> None:
    """gunicorn runs the checkout example with 2 UvicornWorkers; traffic goes on until the
    exported spans show both worker pids served requests; then the request counts Prometheus
    scraped from the one metrics port, per method, route and status, equal exactly the requests
    sent (the workers' counts are merged, none lost, none doubled), and the exemplars
    Prometheus stored carry trace ids of server spans the workers exported."""
    port, metrics_port = free_port(), free_port()
    with OtlpReceiver() as receiver:
        server = ServerProcess(
            gunicorn_command(
                "examples.checkout.app:app",
                port,
                workers=2,
                worker_class=UVICORN_WORKER,
            ),
            env={
                **APP_ENV,
                "OBSKIT_METRICS_PORT": str(metrics_port),
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            },
            cwd=REPO,
            name="gunicorn-checkout",
        )
        with server:
            server.wait_for_port(port)
            server.wait_for_port(metrics_port)
            prom = Prometheus(
                free_port(), {"checkout": [f"127.0.0.1:{metrics_port}"]}, binary=prometheus_bin
            )
            with prom:
                prom.wait_for('up{job="checkout"} == 1', timeout=20)
                base_url = f"http://127.0.0.1:{port}"
                sent: Counter[tuple[str, str, int]] = Counter()
                pids: set[object] = set()
                for batch in range(10):  # bounded: stop as soon as both workers answered
                    calls, _ = traffic_mix(2, seed=10 + batch)
                    sent += t.send(base_url, calls, concurrency=8)
                    spans = receiver.wait_for(
                        lambda s: s.kind == "SERVER", count=sum(sent.values()), timeout=15
                    )
                    pids = {s.resource.get("process.pid") for s in spans}
                    if len(pids) >= 2:
                        break
                assert len(pids) == 2, f"one worker served everything: {pids}"

                deadline = time.monotonic() + 20
                while (seen := _seen(prom)) != sent and time.monotonic() < deadline:
                    time.sleep(0.25)
                print(
                    f"gunicorn x2: sent {sum(sent.values())}, Prometheus counted "
                    f"{sum(seen.values())}, worker pids {sorted(map(str, pids))}"
                )
                assert seen == sent

                # Exemplars survive the multi-worker merge and name real requests' traces.
                traces = {sp.trace_id for sp in spans}
                deadline = time.monotonic() + 20
                while True:
                    data = prom.api(
                        "query_exemplars",
                        query=f'{c.HTTP_DURATION_BUCKET}{{job="checkout"}}',
                        start=f"{time.time() - 300:.3f}",
                        end=f"{time.time():.3f}",
                    )
                    exemplars = [e for series in data for e in series["exemplars"]]
                    if exemplars or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert exemplars, "no exemplar from the multi-worker exposition"
                unknown = {e["labels"][c.EXEMPLAR_TRACE_ID] for e in exemplars} - traces
                assert not unknown, f"exemplar trace ids without a server span: {unknown}"
