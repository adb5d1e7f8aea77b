"""A local Alertmanager for the demo and the end-to-end tests.

Starts Debian's ``prometheus-alertmanager`` (upstream's ``alertmanager``) on 127.0.0.1 with a
given configuration, its state in a temporary ``--storage.path`` and clustering off (an empty
``--cluster.listen-address``: one instance, nothing to gossip with).  Standard library only.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from examples.stack import LOOPBACK, Server, free_port

#: Debian names the binary ``prometheus-alertmanager``; upstream's tarball ``alertmanager``.
BINARIES = ("prometheus-alertmanager", "alertmanager")

#: Routes nothing anywhere: for the demo, where alerts are only looked at in the web UI.
NULL_CONFIG = """\
route:
  receiver: "null"
  group_wait: 5s
receivers:
  - name: "null"
"""


def find_binary() -> str | None:
    """The Alertmanager binary on PATH (either name), or ``None``."""
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Alertmanager:
    """A running Alertmanager; use as a context manager so it always stops."""

    def __init__(
        self,
        config: str = NULL_CONFIG,
        *,
        port: int | None = None,
        binary: str | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="obskit-am-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "alertmanager.yml"
        self.config_path.write_text(config)
        self._server = Server(
            "alertmanager",
            [
                binary or find_binary() or BINARIES[0],
                f"--config.file={self.config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--cluster.listen-address=",  # no clustering: a single local instance
            ],
            self.workdir / "alertmanager.log",
        )

    def start(self, timeout: float = 30.0) -> Alertmanager:
        """Start the server and wait until ``/-/ready`` answers."""
        try:
            self._server.start(f"{self.url}/-/ready", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        """Everything the server printed so far."""
        return self._server.log()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its temporary folder."""
        self._server.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Alertmanager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
