"""init() as a process sees it: idempotence, the metrics port, OTEL_SDK_DISABLED, dead OTLP."""

from __future__ import annotations

import json
import socket

from tests.conftest import free_port

from .conftest import run_python


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_second_init_changes_nothing_and_warns_once() -> None:
    """init() twice: one RuntimeWarning, the first configuration kept, one root handler."""
    result = run_python(
        """
        import logging, warnings, obskit
        from obskit import _state
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            obskit.init("first")
            obskit.init("second", log_level="DEBUG")
            obskit.init("third")
        print(len([w for w in caught if issubclass(w.category, RuntimeWarning)]),
              _state.STATE.config.service_name, len(logging.getLogger().handlers),
              _state.STATE.config.log_level, file=__import__("sys").stderr)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.split() == ["1", "first", "1", "INFO"]


def test_metrics_port_serves_text_and_openmetrics() -> None:
    """The /metrics server answers on its port, negotiating OpenMetrics on Accept."""
    port = free_port()
    result = run_python(
        f"""
        import urllib.request, obskit
        obskit.init("svc", service_version="9", metrics_port={port}, metrics_addr="127.0.0.1")
        def get(accept):
            req = urllib.request.Request("http://127.0.0.1:{port}/metrics",
                                         headers={{"Accept": accept}})
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.headers["Content-Type"], r.read().decode()
        ct1, body1 = get("text/plain")
        ct2, body2 = get("application/openmetrics-text; version=1.0.0")
        import sys
        sys.stderr.write(ct1 + "\\n" + ct2 + "\\n")
        info = 'deployment_environment_name="",service_name="svc",service_version="9"'
        assert "target_info{{" + info + "}} 1.0" in body1, body1
        assert body2.rstrip().endswith("# EOF")
        assert "process_cpu_seconds_total" in body1
        """
    )
    assert result.returncode == 0, result.stderr
    ct_text, ct_om = result.stderr.splitlines()[:2]
    assert ct_text.startswith("text/plain")
    assert ct_om.startswith("application/openmetrics-text")


def test_metrics_port_in_use_is_one_error_line_and_app_serves() -> None:
    """A taken metrics port → one JSON error line naming the port; requests still work."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = run_python(
            f"""
            import asyncio, httpx, obskit
            obskit.init("svc", metrics_port={port}, metrics_addr="127.0.0.1")
            from starlette.applications import Starlette
            from starlette.responses import PlainTextResponse
            from starlette.routing import Route
            async def ok(request): return PlainTextResponse("ok")
            app = Starlette(routes=[Route("/", ok)])
            async def main():
                t = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
                    print("STATUS", (await c.get("/")).status_code)
            asyncio.run(main())
            """
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "STATUS 200" in lines
    events = _json_lines("\n".join(line for line in lines if line.startswith("{")))
    errors = [e for e in events if e["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["port"] == port
    assert "port already in use" in str(errors[0]["event"])
    assert any(e.get("logger") == "obskit.access" and e["status"] == 200 for e in events)


def test_otel_sdk_disabled_keeps_logs_and_metrics() -> None:
    """OTEL_SDK_DISABLED=true: no spans, no ids, but access lines and metrics still work."""
    result = run_python(
        """
        import asyncio, httpx, obskit
        from prometheus_client import generate_latest
        obskit.init("svc")
        from obskit import _state
        assert _state.STATE.tracer is None
        from fastapi import FastAPI
        app = FastAPI()
        @app.get("/a")
        async def a(): return 1
        async def main():
            t = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
                await c.get("/a")
        asyncio.run(main())
        import sys
        sys.stderr.write(generate_latest().decode())
        """,
        env={"OTEL_SDK_DISABLED": "true"},
    )
    assert result.returncode == 0, result.stderr
    (access,) = [e for e in _json_lines(result.stdout) if e.get("logger") == "obskit.access"]
    assert access["route"] == "/a"
    assert "trace_id" not in access
    assert 'http_route="/a"' in result.stderr


def test_dead_otlp_endpoint_costs_no_request_and_counts_drops() -> None:
    """Spans to a closed port: requests succeed fast, drops are counted, one warning."""
    port = free_port()
    result = run_python(
        """
        import asyncio, time, httpx, obskit
        obskit.init("svc")
        from obskit import _state
        from fastapi import FastAPI
        app = FastAPI()
        @app.get("/a")
        async def a(): return 1
        async def main():
            t = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
                start = time.perf_counter()
                codes = [(await c.get("/a")).status_code for _ in range(50)]
                return codes, time.perf_counter() - start
        codes, took = asyncio.run(main())
        processor = _state.STATE.extras["processor"]
        processor.force_flush()
        deadline = time.monotonic() + 10
        while _state.STATE.metrics.spans_dropped._value.get() < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        import sys
        dropped = _state.STATE.metrics.spans_dropped._value.get()
        sys.stderr.write(f"{set(codes)} {took:.3f} {dropped}\\n")
        """,
        env={
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OBSKIT_SHUTDOWN_TIMEOUT": "1",
        },
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    codes, took, dropped = result.stderr.strip().splitlines()[-1].split(" ", 2)[0:3]
    assert codes == "{200}"
    assert float(took) < 5.0
    assert float(dropped) >= 50
    warnings = [
        e
        for e in _json_lines(result.stdout)
        if e["level"] == "warning" and "spans dropped" in str(e["event"])
    ]
    assert len(warnings) == 1


def test_instrument_without_init_and_shutdown_twice() -> None:
    """instrument() before init() initialises with defaults (no warning); shutdown() twice is
    harmless and a later init() is still ignored."""
    result = run_python(
        """
        import sys, warnings, obskit
        from obskit import _state
        warnings.simplefilter("error")
        async def app(scope, receive, send): pass
        wrapped = obskit.instrument(app)
        assert _state.STATE is not None
        assert _state.STATE.config.service_name == "unknown_service"
        obskit.shutdown()
        obskit.shutdown()
        sys.stderr.write(type(wrapped).__name__ + "\\n")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "ObskitASGI"
