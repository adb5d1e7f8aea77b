"""The metrics port: taken by another process, it costs one clear error line, not the service."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from tests.runtime_e2e._service import UVICORN, run_service
from tests.support import OtlpReceiver

pytestmark = pytest.mark.e2e


def test_metrics_port_in_use_is_a_clear_error_and_the_service_keeps_serving(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """With ``OBSKIT_METRICS_PORT`` already bound by another process, the service starts and
    answers requests, and one JSON error line names the port (no traceback storm, no crash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        with run_service(
            UVICORN,
            otlp_endpoint=otlp_receiver.endpoint,
            tmp_dir=tmp_path,
            extra_env={"OBSKIT_METRICS_PORT": str(busy)},
            wait_metrics=False,
        ) as service:
            with service.client() as client:
                for i in range(5):
                    assert client.get(f"/items/{i}").status_code == 200
            service.access_line(path="/items/4")
            errors = [r for r in service.records() if r.get("level") in ("error", "critical")]
            assert len(errors) == 1, errors
            assert str(busy) in json.dumps(errors[0]), errors[0]
            assert service.proc.running()
