"""Run a server as a real child process and read its output line by line.

:class:`ServerProcess` starts a command in its own process group (so a server's workers are
stopped with it), reads stdout and stderr in two threads as lines arrive, waits until a port
answers, and stops the whole group with SIGTERM, then SIGKILL after a bounded wait.  Every started
process is also registered for an ``atexit`` sweep, so an interrupted test run leaves nothing
behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from tests.support._net import port_answers

__all__ = [
    "Line",
    "ProcessExitedError",
    "ServerProcess",
    "clean_env",
    "gunicorn_command",
    "run_python",
    "uvicorn_command",
]

#: Environment variables a test server must not inherit from the developer's shell: they would
#: change what obskit, OpenTelemetry or prometheus-client do behind the test's back.
_INHERITED_PREFIXES = (
    "OTEL_",
    "OBSKIT_",
    "PROMETHEUS_",
    "GUNICORN_",
    "UVICORN_",
    "WEB_CONCURRENCY",
)

_LIVE: set[ServerProcess] = set()
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Line:
    """One line a child printed: the stream (``"stdout"``/``"stderr"``), its text without the
    trailing newline, and when it was read (``time.monotonic()``)."""

    stream: str
    text: str
    at: float


class ProcessExitedError(RuntimeError):
    """The server exited while the test was waiting for it."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without OTel/obskit/prometheus/server settings, plus ``extra``.

    ``PYTHONUNBUFFERED=1`` is set so a child's lines reach the pipe as they are written (as in a
    container), which the line-by-line assertions rely on.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if extra:
        env.update(extra)
    return env


def run_python(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (this interpreter) to its end, in :func:`clean_env` plus ``env``; its
    output captured as text.  The caller checks the exit status (and says why it expects it)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        timeout=timeout,
        check=False,
    )


def uvicorn_command(app: str, port: int, *extra: str) -> list[str]:
    """``python -m uvicorn APP`` on 127.0.0.1:``port``, in this interpreter."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


def gunicorn_command(
    app: str,
    port: int,
    *extra: str,
    workers: int = 1,
    worker_class: str = "sync",
) -> list[str]:
    """``python -m gunicorn APP`` bound to 127.0.0.1:``port`` with ``workers`` workers.

    gunicorn's control socket (newer releases) is disabled: its default path is per user, so two
    servers started in parallel would fight over it.
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--graceful-timeout",
        "5",
        *_no_control_socket(),
        *extra,
    ]


def _no_control_socket() -> list[str]:
    from gunicorn.config import KNOWN_SETTINGS  # the dev group has gunicorn; imported lazily

    names = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


class ServerProcess:
    """A command run in its own process group, its output captured line by line.

    Use it as a context manager (``with ServerProcess(...) as proc:``) or call :meth:`start` and
    :meth:`stop`; :meth:`stop` is idempotent and always reaps the whole group.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        name: str | None = None,
        tty: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.env = clean_env(env)
        self.cwd = cwd
        self.name = name or os.path.basename(self.argv[0])
        #: Give the child a pseudo-terminal as stdout and stderr (``isatty()`` is true), read as
        #: one stream named ``"tty"``; for behaviour that depends on a terminal.
        self.tty = tty
        self._master_fd: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []
        self._lines: list[Line] = []
        self._cond = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ServerProcess:
        """Start the command; returns ``self``."""
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        if self.tty:
            self._master_fd, slave_fd = pty.openpty()
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    env=self.env,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=slave_fd,
                    stderr=slave_fd,
                    start_new_session=True,
                )
            finally:
                os.close(slave_fd)  # the child holds it; EOF on the master when it exits
            with _LIVE_LOCK:
                _LIVE.add(self)
            reader = threading.Thread(target=self._read_tty, name=f"{self.name}-tty", daemon=True)
            reader.start()
            self._readers.append(reader)
            return self
        self._proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group: stop() reaches every worker
        )
        with _LIVE_LOCK:
            _LIVE.add(self)
        for stream_name, stream in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            assert stream is not None
            reader = threading.Thread(
                target=self._read,
                args=(stream_name, stream),
                name=f"{self.name}-{stream_name}",
                daemon=True,
            )
            reader.start()
            self._readers.append(reader)
        return self

    def _read(self, stream_name: str, stream: Iterable[bytes]) -> None:
        for raw in stream:
            self._append(stream_name, raw)
        with self._cond:
            self._cond.notify_all()

    def _read_tty(self) -> None:
        assert self._master_fd is not None
        pending = b""
        while True:
            try:
                chunk = os.read(self._master_fd, 65536)
            except OSError:  # EIO: every holder of the terminal's other end has exited
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                self._append("tty", raw)
        if pending:
            self._append("tty", pending)
        with self._cond:
            self._cond.notify_all()

    def _append(self, stream_name: str, raw: bytes) -> None:
        line = Line(stream_name, raw.decode("utf-8", "replace").rstrip("\r\n"), time.monotonic())
        with self._cond:
            self._lines.append(line)
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        """The child's pid (also its process-group id)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} not started")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, or ``None`` while running."""
        return None if self._proc is None else self._proc.poll()

    def running(self) -> bool:
        """Whether the child is still running."""
        return self._proc is not None and self._proc.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child's whole process group (ignored once it is gone)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the server, wait up to ``timeout`` s, then SIGKILL the group; join the readers.

        SIGTERM goes to the main process only, as ``docker stop`` or Kubernetes send it to PID 1:
        a pre-forking master must stop its own workers.  Returns the exit status (``None`` if it
        was never started).
        """
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                proc.wait(timeout=5)
        # Workers that outlived their master (they should not) are killed with the group.
        self.signal(signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if self._master_fd is not None:
            os.close(self._master_fd)
            self._master_fd = None
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return proc.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- output ------------------------------------------------------------------------------
    @property
    def lines(self) -> list[Line]:
        """Every line read so far from both streams, in arrival order."""
        with self._cond:
            return list(self._lines)

    def texts(self, stream: str | None = None) -> list[str]:
        """The text of every line so far, optionally from one stream only."""
        return [ln.text for ln in self.lines if stream is None or ln.stream == stream]

    def output_tail(self, count: int = 40) -> str:
        """The last ``count`` lines, prefixed by stream, for error messages."""
        return "\n".join(f"[{ln.stream}] {ln.text}" for ln in self.lines[-count:])

    def wait_for_line(
        self, predicate: Callable[[str], bool], *, timeout: float = 10.0, start: int = 0
    ) -> str:
        """Wait for a line (from index ``start`` on) whose text satisfies ``predicate``.

        Raises:
            ProcessExitedError: when the process exits before such a line appears.
            TimeoutError: when no such line appears within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[start:]:
                    if predicate(line.text):
                        return line.text
                if not self.running() and not any(r.is_alive() for r in self._readers):
                    raise ProcessExitedError(
                        f"{self.name} exited ({self.returncode}) without the expected line:\n"
                        + self.output_tail()
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.name}: no matching line within {timeout:.1f}s:\n"
                        + self.output_tail()
                    )
                self._cond.wait(min(remaining, 0.2))

    def wait_for_port(self, port: int, *, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
        """Poll until ``host:port`` accepts connections, failing fast if the process exits.

        Raises:
            ProcessExitedError: the process exited first (its output is in the message).
            TimeoutError: the port did not answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not port_answers(port, host):
            if not self.running():
                for reader in self._readers:
                    reader.join(timeout=2)
                raise ProcessExitedError(
                    f"{self.name} exited ({self.returncode}) before {host}:{port} answered:\n"
                    + self.output_tail()
                )
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.name}: {host}:{port} not answering after {timeout:.1f}s:\n"
                    + self.output_tail()
                )
            time.sleep(delay)  # polling back-off, bounded by the deadline
            delay = min(delay * 1.5, 0.2)


@atexit.register
def _kill_leftovers() -> None:
    """Last-resort sweep: an interrupted run must not leave servers running."""
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for proc in leftovers:
        proc.stop(timeout=2)
