"""Server integration without a real server: lifespan flush, gunicorn master logger, quiet SDK."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_python


def test_lifespan_shutdown_flushes_spans() -> None:
    """When the ASGI lifespan shutdown completes, queued spans are exported (uvicorn re-raises
    SIGTERM after a graceful shutdown, so atexit hooks never run there)."""
    result = run_python(
        """
        import asyncio, sys, obskit
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        obskit.init("svc")
        from obskit._runtime import state as _state
        from obskit._runtime.tracing.setup import BoundedBatchProcessor, DropCounter
        exported = []
        class Keep(SpanExporter):
            def export(self, spans):
                exported.extend(spans)
                return SpanExportResult.SUCCESS
        processor = BoundedBatchProcessor(
            Keep(), DropCounter(lambda n: None), schedule_delay_millis=60000
        )
        _state.STATE.provider.add_span_processor(processor)
        _state.STATE.processor = processor
        from fastapi import FastAPI
        app = FastAPI()
        @app.get("/a")
        async def a(): return 1
        async def main():
            sent = []
            messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
            async def receive(): return next(messages)
            async def send(m): sent.append(m["type"])
            import httpx
            t = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
                await c.get("/a")
            before = len(exported)
            await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
            sys.stderr.write(f"{before} {len(exported)} {sent}\\n")
        asyncio.run(main())
        """
    )
    assert result.returncode == 0, result.stderr
    before, after, *_ = result.stderr.strip().splitlines()[-1].split(" ", 2)
    assert (before, after) == ("0", "1")


def test_gunicorn_logger_class_renders_master_lines_as_json() -> None:
    """obskit.GunicornLogger (for gunicorn's master) renders gunicorn.error as JSON lines and
    never writes gunicorn's plain access line."""
    result = run_python(
        """
        from gunicorn.config import Config
        import obskit
        cfg = Config()
        cfg.set("logger_class", "obskit.GunicornLogger")
        log = cfg.logger_class(cfg)
        log.info("Starting gunicorn %s", "27")
        log.access(None, None, {}, None)
        """,
        env={"OTEL_SERVICE_NAME": "master-svc"},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["logger"], e["event"], e["service"]) for e in lines] == [
        ("gunicorn.error", "Starting gunicorn 27", "master-svc")
    ]
    assert result.stderr == ""


def test_only_obskits_own_export_failures_are_quiet() -> None:
    """obskit's export to a closed port logs none of the SDK's or the exporter's per-failure
    lines (obskit's one warning says it instead), while an OTLP exporter of the user's own in
    the same process, failing the same way, still logs its error: obskit quiets only what its
    own export causes, not those loggers process-wide."""
    from tests.support import closed_port

    mine, theirs = closed_port(), closed_port()
    result = run_python(
        f"""
        import obskit
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        obskit.init("svc")
        users = BatchSpanProcessor(
            OTLPSpanExporter(endpoint="http://127.0.0.1:{theirs}/v1/traces", timeout=1)
        )
        trace.get_tracer_provider().add_span_processor(users)
        with trace.get_tracer("app").start_as_current_span("work"):
            pass
        trace.get_tracer_provider().force_flush()  # obskit's export, then the user's
        users.force_flush()
        """,
        env={
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{mine}/v1/traces",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
        },
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    sdk = [e for e in lines if e["logger"].startswith("opentelemetry.")]
    ours = [e for e in lines if e["event"] == "spans dropped: OTLP endpoint unreachable or slow"]
    assert len(ours) == 1, lines  # obskit's own failure: its one warning
    # The user's exporter's failure is logged by its own logger: one error for its one batch
    # (upstream may add retry warnings); obskit's failed batch adds none.
    assert {e["logger"] for e in sdk} == {"opentelemetry.exporter.otlp.proto.http.trace_exporter"}
    assert [e["level"] for e in sdk].count("error") == 1, lines


def test_uvicorn_reconfiguring_logging_gets_the_bridge_back() -> None:
    """uvicorn.Config() (which runs dictConfig) after init(): uvicorn's loggers still render
    through obskit (one JSON line), and uvicorn.access stays silent."""
    result = run_python(
        """
        import logging, uvicorn, obskit
        obskit.init("svc")
        uvicorn.Config(app="x:y", log_level="info")
        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')
        """
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in lines] == ["Started server process"]
    assert result.stderr == ""


def test_log_handler_in_a_logging_config_file(tmp_path: Path) -> None:
    """obskit.LogHandler in a dictConfig (uvicorn --log-config for its --workers supervisor):
    uvicorn's supervisor lines become JSON, its access log stays silent."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"obskit": {"class": "obskit.LogHandler"}},
        "root": {"handlers": ["obskit"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"propagate": True},
            "uvicorn.access": {"propagate": False, "level": "CRITICAL"},
        },
    }
    path = tmp_path / "log.json"
    path.write_text(json.dumps(config))
    result = run_python(
        f"""
        import logging, uvicorn
        uvicorn.Config(app="x:y", log_config={str(path)!r})
        logging.getLogger("uvicorn.error").info("Started parent process [1]")
        logging.getLogger("uvicorn.access").info("plain")
        """,
        env={"OBSKIT_SERVICE_NAME": "sup"},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["service"]) for e in lines] == [("Started parent process [1]", "sup")]
