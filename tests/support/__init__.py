"""Reusable harness for tests that run real servers on 127.0.0.1.

* :class:`OtlpReceiver` — an OTLP/HTTP trace receiver that decodes and keeps exported spans;
* :class:`ServerProcess` — a server command in its own process group, output read line by line,
  stopped with SIGTERM then SIGKILL; :func:`uvicorn_command`, :func:`gunicorn_command`;
  :func:`run_python` — a short Python program run to its end in a clean environment;
* :func:`scrape` — ``/metrics`` read as OpenMetrics, with exemplars;
* :func:`assert_all_json` and friends — JSON log lines;
* :func:`new_traceparent` — an incoming W3C ``traceparent`` with known ids;
* ports: :func:`free_port`, :func:`closed_port`, :class:`BlackHole`; a downstream that records
  the headers it receives: :class:`HeaderRecorder`.

pytest fixtures (``otlp_receiver``, ``spawn``) live in :mod:`tests.support.fixtures`.
"""

from tests.support._jsonlog import assert_all_json, find_records, parse_json_lines, walk_values
from tests.support._metrics import OPENMETRICS_ACCEPT, Sample, Scrape, parse_openmetrics, scrape
from tests.support._net import (
    BlackHole,
    closed_port,
    free_port,
    port_answers,
    request_until_close,
    wait_for_port,
)
from tests.support._otlp import OtlpReceiver, ReceivedSpan
from tests.support._process import (
    Line,
    ProcessExitedError,
    ServerProcess,
    clean_env,
    gunicorn_command,
    run_python,
    uvicorn_command,
)
from tests.support._recorder import HeaderRecorder
from tests.support._trace import TraceParent, is_hex_id, new_traceparent

__all__ = [
    "OPENMETRICS_ACCEPT",
    "BlackHole",
    "HeaderRecorder",
    "Line",
    "OtlpReceiver",
    "ProcessExitedError",
    "ReceivedSpan",
    "Sample",
    "Scrape",
    "ServerProcess",
    "TraceParent",
    "assert_all_json",
    "clean_env",
    "closed_port",
    "find_records",
    "free_port",
    "gunicorn_command",
    "is_hex_id",
    "new_traceparent",
    "parse_json_lines",
    "parse_openmetrics",
    "port_answers",
    "request_until_close",
    "run_python",
    "scrape",
    "uvicorn_command",
    "wait_for_port",
    "walk_values",
]
