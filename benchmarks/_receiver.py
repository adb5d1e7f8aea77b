"""A healthy OTLP/HTTP trace receiver, run as its own process on 127.0.0.1 by the benchmarks.

It is the test suite's receiver (``tests/support/_otlp.py``: ``POST /v1/traces``, protobuf,
plain/gzip/deflate, answered ``200`` with an empty ``ExportTraceServiceResponse``; ``GET /stats``
answers ``{"requests": N, "spans": N, "errors": N}``) with ``keep_spans=False``: spans are parsed
and counted, nothing is kept, so a long soak does not grow it.  One implementation serves both:
the test suite exercises its decoding on every exported span, and the benchmarks import it the
way they import ``examples/stack.py``, from the checkout.

Run: ``python benchmarks/_receiver.py``; it prints its port on the first line of stdout and
exits when its stdin closes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _exit_with_parent() -> None:
    """Exit when stdin (a pipe from the process that started us) closes: no orphan receiver
    when a benchmark is interrupted."""
    sys.stdin.read()
    os._exit(0)


def main() -> None:
    """Serve until killed or until stdin closes; the port is printed first."""
    sys.path.insert(0, str(REPO))
    from tests.support._otlp import OtlpReceiver

    receiver = OtlpReceiver(keep_spans=False).start()
    print(receiver.port, flush=True)
    _exit_with_parent()


# -- client side, for the benchmark drivers ----------------------------------------------------
class Receiver:
    """Start the receiver process; ``endpoint`` for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        """The receiver's counts so far."""
        with urllib.request.urlopen(f"{self.endpoint}/stats", timeout=10) as resp:  # noqa: S310
            data: dict[str, int] = json.loads(resp.read())
        return data

    def use_in_this_process(self, **env: str) -> None:
        """Point this process's obskit/OTel at the receiver: every inherited ``OTEL_*`` and
        ``OBSKIT_*`` variable removed, then the benchmark's set-up (JSON logs, no metrics port,
        service ``bench``) plus ``env``."""
        for key in [k for k in os.environ if k.startswith(("OTEL_", "OBSKIT_"))]:
            del os.environ[key]
        os.environ.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=self.endpoint,
            OBSKIT_METRICS_PORT="0",
            OBSKIT_LOG_FORMAT="json",
            OTEL_SERVICE_NAME="bench",
            **env,
        )

    def stop(self) -> None:
        """Terminate the process."""
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
