"""Put on ``PYTHONPATH``: makes the OTLP gRPC exporter package unimportable in this process.

It models an install without obskit's ``grpc`` extra without uninstalling anything: a meta-path
finder placed first answers every import of ``opentelemetry.exporter.otlp.proto.grpc`` (and its
submodules) with ``ModuleNotFoundError``, exactly what a missing package raises.  It prints
nothing, so the service's output stays JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

_BLOCKED = "opentelemetry.exporter.otlp.proto.grpc"


class _BlockGrpcExporter(MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname == _BLOCKED or fullname.startswith(_BLOCKED + "."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked)", name=fullname)
        return None


sys.meta_path.insert(0, _BlockGrpcExporter())
