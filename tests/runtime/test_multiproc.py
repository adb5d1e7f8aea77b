"""Several worker processes: exact counts and exemplars merged across forked workers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from tests.conftest import free_port

from obskit._runtime.metrics.multiproc import MergedCollector, group_by_series

from .conftest import run_python


def test_forked_workers_add_up_with_exemplars(tmp_path: Path) -> None:
    """Like gunicorn --preload: init in the parent, two forked workers serve requests; the
    parent's /metrics shows the exact total and the workers' trace-id exemplars."""
    port = free_port()
    result = run_python(
        f"""
        import asyncio, os, sys, urllib.request
        import httpx, obskit
        obskit.init("svc", metrics_port={port}, metrics_addr="127.0.0.1")
        from fastapi import FastAPI
        app = FastAPI()
        @app.get("/items/{{i}}")
        async def item(i: int): return i
        @app.api_route("/other/{{i}}", methods=["GET", "POST"])
        async def other(i: int): return i

        async def serve(n, prefix, method="GET"):
            t = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
                for k in range(n):
                    tid = f"{{os.getpid():08x}}{{k:024x}}"
                    parent = f"00-{{tid}}-00f067aa0ba902b7-01"
                    await c.request(method, f"/{{prefix}}/{{k}}", headers={{"traceparent": parent}})

        children = []
        for worker in range(2):
            pid = os.fork()
            if pid == 0:
                asyncio.run(serve(10 + worker, "items"))
                # a series of its own per worker: its exemplar must come from that worker
                asyncio.run(serve(2, "other", ["GET", "POST"][worker]))
                obskit.shutdown()
                os._exit(0)
            children.append(pid)
        for pid in children:
            assert os.waitpid(pid, 0)[1] == 0
        req = urllib.request.Request(
            "http://127.0.0.1:{port}/metrics",
            headers={{"Accept": "application/openmetrics-text; version=1.0.0"}},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            sys.stderr.write(r.read().decode())
        sys.stderr.write("WORKERS " + " ".join(f"{{p:08x}}" for p in children) + "\\n")
        """,
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    text = result.stderr
    count = re.search(
        r'^http_server_request_duration_seconds_count\{[^}]*http_route="/items/\{i\}"[^}]*\} (\S+)',
        text,
        re.M,
    )
    assert count is not None, text
    assert float(count.group(1)) == 21.0  # 10 + 11, exactly
    workers = text.split("WORKERS ")[1].split()
    exemplar_ids = re.findall(r'# \{trace_id="([0-9a-f]{32})"\}', text)
    assert exemplar_ids, text
    # the newest exemplar per bucket wins across workers; each worker's files are read
    # (the trace ids start with the worker's pid)
    assert {tid[:8] for tid in exemplar_ids} == set(workers)


def test_detect_uses_configured_directory(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR set by the user is used as is; otherwise single-process."""
    result = run_python(
        """
        import sys
        from obskit._runtime.metrics import multiproc as _multiproc
        sys.stderr.write(str(_multiproc.detect()))
        """,
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    assert result.stderr.strip() == str(tmp_path)
    plain = run_python(
        "import sys\nfrom obskit._runtime.metrics import multiproc as _multiproc\n"
        "sys.stderr.write(str(_multiproc.detect()))"
    )
    assert plain.stderr.strip() == "None"


def test_stale_directories_of_dead_servers_are_removed(tmp_path: Path) -> None:
    """obskit's shared directories whose server pid is gone are deleted; live ones kept."""
    import os

    from obskit._runtime.metrics.multiproc import remove_stale

    uid = os.getuid()
    dead = tmp_path / f"obskit-metrics-{uid}-999999999-1"
    alive = tmp_path / f"obskit-metrics-{uid}-{os.getpid()}-1"
    other = tmp_path / "unrelated"
    for path in (dead, alive, other):
        path.mkdir()
    remove_stale(str(tmp_path))
    assert not dead.exists()
    assert alive.exists()
    assert other.exists()


def test_worker_reports_a_port_held_by_a_foreign_program(tmp_path: Path) -> None:
    """Multi-worker mode: a port taken by a sibling is silent, but a port held by a program
    that is not one of our workers is reported once as an error (the worker keeps running)."""
    import json
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = run_python(
            f"""
            import time, obskit
            from obskit._runtime.http import exposition as _exposition
            _exposition._RETRY_SECONDS = 0.05
            obskit.init("svc", metrics_port={port}, metrics_addr="127.0.0.1")
            time.sleep(0.5)
            """,
            env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        )
    assert result.returncode == 0, result.stderr
    errors = [e for e in map(json.loads, result.stdout.splitlines()) if e["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["port"] == port


def test_gunicorn_role_from_the_call_stack() -> None:
    """Under gunicorn, init() called while a worker loads the app keys the shared directory on
    the arbiter (the parent); called from the arbiter (--preload), on the arbiter itself."""
    import os

    import gunicorn  # noqa: F401 - the detection looks for gunicorn in sys.modules

    from obskit._runtime.metrics.multiproc import _server_pid

    def run_from(filename: str) -> int | None:
        namespace = {"server_pid": _server_pid}
        exec(compile("result = server_pid()", filename, "exec"), namespace)  # noqa: S102
        return namespace["result"]  # type: ignore[return-value]

    worker = os.path.join(os.sep, "site", "gunicorn", "workers", "base.py")
    arbiter = os.path.join(os.sep, "site", "gunicorn", "arbiter.py")
    assert run_from(worker) == os.getppid()
    assert run_from(arbiter) == os.getpid()


def _sum_first_histogram() -> Metric:
    """Two series of one histogram in the order prometheus-client < 0.24's multiprocess
    collector emits them: every ``_sum`` first, then each series' buckets and ``_count``."""
    m = Metric("http_server_request_duration_seconds", "Duration.", "histogram")
    a, b = {"http_route": "/a"}, {"http_route": "/b"}
    m.add_sample("http_server_request_duration_seconds_sum", a, 0.5)
    m.add_sample("http_server_request_duration_seconds_sum", b, 2.0)
    for labels, first in ((a, 1.0), (b, 0.0)):
        m.add_sample("http_server_request_duration_seconds_bucket", {**labels, "le": "0.5"}, first)
        m.add_sample("http_server_request_duration_seconds_bucket", {**labels, "le": "+Inf"}, 1.0)
        m.add_sample("http_server_request_duration_seconds_count", labels, 1.0)
    return m


def _openmetrics(metric: Metric) -> str:
    class One:
        def collect(self) -> list[Metric]:
            return [metric]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def test_histogram_series_are_regrouped_for_strict_openmetrics_parsers() -> None:
    """The old multiprocess order is rejected by prometheus-client's OpenMetrics parser
    ("Invalid metric grouping"); after group_by_series it parses, with every value intact."""
    broken = _sum_first_histogram()
    with pytest.raises(ValueError, match="Invalid metric grouping"):
        list(text_string_to_metric_families(_openmetrics(broken)))

    fixed = _sum_first_histogram()
    fixed.samples = group_by_series(fixed.samples)
    assert [(s.name.rsplit("_", 1)[1], s.labels["http_route"]) for s in fixed.samples] == [
        ("bucket", "/a"), ("bucket", "/a"), ("count", "/a"), ("sum", "/a"),
        ("bucket", "/b"), ("bucket", "/b"), ("count", "/b"), ("sum", "/b"),
    ]  # fmt: skip
    (family,) = text_string_to_metric_families(_openmetrics(fixed))
    assert sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in family.samples) == (
        sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in broken.samples)
    )


def _registry_text(collector: MergedCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def test_a_series_caught_mid_creation_is_left_out_until_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker writes a new histogram series' values into its file one at a time (``_sum``,
    then each bucket up to ``+Inf``), so a scrape in between once showed a series without its
    ``+Inf`` bucket, which the strict OpenMetrics parser rejects ("+Inf bucket missing"; seen
    in CI under gunicorn).  The merged collector leaves such a series out of that scrape and
    shows it, with its counts, once its last bucket is written."""
    from prometheus_client.multiprocess import MultiProcessCollector
    from prometheus_client.values import MultiProcessValue

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    value = MultiProcessValue(process_identifier=lambda: 4242)  # type: ignore[no-untyped-call]
    name, bounds = "http_server_request_duration_seconds", ("0.5", "+Inf")

    def create(route: str, buckets: int) -> list[object]:
        """The values of one series, created in the order Histogram._metric_init creates them."""
        made = [value("histogram", name, name + "_sum", ("http_route",), (route,), "Duration.")]
        for le in bounds[:buckets]:
            made.append(
                value("histogram", name, name + "_bucket", ("http_route", "le"), (route, le), "D.")
            )
        return made

    whole = create("/a", len(bounds))
    whole[0].inc(0.25)  # type: ignore[attr-defined]
    whole[1].inc(1)  # type: ignore[attr-defined]
    create("/b", 1)  # caught between its first bucket and its +Inf bucket

    # prometheus-client's own collector shows the half-made series, which its strict parser
    # rejects ("+Inf bucket missing").  At the 0.20 floor that collector's output is rejected
    # earlier, on sample order ("Invalid metric grouping", even for whole series), an ordering
    # the merged collector does not share: the assertions below hold on every version.
    with pytest.raises(ValueError, match=r"\+Inf bucket missing|Invalid metric grouping"):
        list(text_string_to_metric_families(_registry_text(MultiProcessCollector(None))))  # type: ignore[arg-type,no-untyped-call]
    collector = MergedCollector(str(tmp_path), {name: ["http_route"]})
    (family,) = text_string_to_metric_families(_registry_text(collector))
    assert {(s.name, s.labels.get("le"), s.value) for s in family.samples} == {
        (name + "_bucket", "0.5", 1.0),
        (name + "_bucket", "+Inf", 1.0),
        (name + "_count", None, 1.0),
        (name + "_sum", None, 0.25),
    }
    assert {s.labels["http_route"] for s in family.samples} == {"/a"}

    create("/b", len(bounds))  # the worker finishes the series: the next scrape shows it
    (family,) = text_string_to_metric_families(_registry_text(collector))
    assert {s.labels["http_route"] for s in family.samples} == {"/a", "/b"}
    assert [s.value for s in family.samples if s.labels == {"http_route": "/b"}] == [0.0, 0.0]


#: A Starlette app with one templated route and ``serve(n)``: n requests through httpx's ASGI
#: transport (the child programs below import httpx and asyncio themselves).
_SERVE = """from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
async def item(request): return PlainTextResponse("ok")
app = Starlette(routes=[Route("/items/{i}", item)])
async def serve(n):
    t = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=t, base_url="http://x") as c:
        for k in range(n):
            await c.get(f"/items/{k}")
"""

_HIDDEN_VALUE_CLASS = """
import _hide
import prometheus_client.values as values
# prometheus-client imported before the variable is set (an application importing it first);
# its value-class names are hidden from obskit's code, as after an upstream rename.
for name in ("ValueClass", "MutexValue", "MultiProcessValue", "get_value_class"):
    _hide.hide_module_attribute(values, name)
"""


def test_imported_before_the_variable_workers_add_up_without_value_class_internals(
    tmp_path: Path,
) -> None:
    """prometheus-client imported (single-process mode) before ``PROMETHEUS_MULTIPROC_DIR`` is
    set, and every value-class name of ``prometheus_client.values`` hidden from obskit: init()
    still switches multiprocess mode on through the documented variable alone (the module is
    imported again), two forked workers' counts add up exactly in the parent's exposition, and
    nothing is warned — nor does init()'s histogram self-test leave a throw-away series in the
    shared files (it cannot run there: the public ``observe()`` serves)."""
    port = free_port()
    result = run_python(
        _HIDDEN_VALUE_CLASS
        + f"""
import asyncio, json, os, sys, urllib.request
import httpx
os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
import obskit
obskit.init("svc", metrics_port={port}, metrics_addr="127.0.0.1")
{_SERVE}children = []
for worker in range(2):
    pid = os.fork()
    if pid == 0:
        asyncio.run(serve(5 + worker))
        obskit.shutdown()
        os._exit(0)
    children.append(pid)
for pid in children:
    assert os.waitpid(pid, 0)[1] == 0
with urllib.request.urlopen("http://127.0.0.1:{port}/metrics", timeout=5) as r:
    sys.stderr.write(r.read().decode())
""",
        env={"PYTHONPATH": str(Path(__file__).parent)},
    )
    assert result.returncode == 0, result.stderr
    count = re.search(
        r'^http_server_request_duration_seconds_count\{[^}]*http_route="/items/\{i\}"[^}]*\} (\S+)',
        result.stderr,
        re.M,
    )
    assert count is not None, result.stderr
    assert float(count.group(1)) == 11.0  # 5 + 6, each worker's own requests added up
    levels = [json.loads(line)["level"] for line in result.stdout.splitlines()]
    assert "warning" not in levels, result.stdout
    # init()'s self-test wrote no throw-away histogram into the shared files
    assert not re.search(r"^http_server_request_duration_(?!seconds)", result.stderr, re.M)


def test_a_prometheus_client_that_ignores_the_variable_gives_one_warning_and_own_counts(
    tmp_path: Path,
) -> None:
    """prometheus-client no longer choosing its value class from ``PROMETHEUS_MULTIPROC_DIR``
    (its metrics read a value class obskit cannot reach: simulated by pointing them at a frozen
    single-process one): init() finds a metric made after setting the variable is not written
    to the directory, says so in one JSON warning naming the directory, and serves the process's
    own counts exactly (single-process mode) instead of an empty or partial merge."""
    result = run_python(
        f"""
import asyncio, json, os, sys, types
import httpx
import prometheus_client.metrics as metrics
metrics.values = types.SimpleNamespace(ValueClass=metrics.values.MutexValue)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
import obskit
obskit.init("svc")
from prometheus_client import REGISTRY, generate_latest
from obskit._runtime import state
{_SERVE}asyncio.run(serve(3))
assert state.STATE.exposition is None  # single-process exposition: the default registry
sys.stderr.write(generate_latest(REGISTRY).decode())
""",
    )
    assert result.returncode == 0, result.stderr
    count = re.search(
        r'^http_server_request_duration_seconds_count\{[^}]*http_route="/items/\{i\}"[^}]*\} (\S+)',
        result.stderr,
        re.M,
    )
    assert count is not None, result.stderr
    assert float(count.group(1)) == 3.0
    from obskit._runtime.metrics.multiproc import MULTIPROC_WARNING

    warnings = [r for r in map(json.loads, result.stdout.splitlines()) if r["level"] == "warning"]
    assert [w["event"] for w in warnings] == [MULTIPROC_WARNING]
    assert warnings[0]["directory"] == str(tmp_path)
    assert "not written there" in warnings[0]["error"]
