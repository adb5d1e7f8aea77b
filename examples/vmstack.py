"""A local VictoriaMetrics stack for the demo and the end-to-end tests.

Debian's ``victoria-metrics`` package ships the three binaries started here, all on 127.0.0.1:

* ``victoria-metrics`` — the single-node database, data in a temporary ``-storageDataPath``;
* ``vmagent`` — scrapes the services (a Prometheus ``scrape_configs`` file) and remote-writes
  the samples into it;
* ``vmalert`` — evaluates the generated rule files against it (``-datasource.url``), writes the
  recordings and alert states back (``-remoteWrite.url``), restores alert states on restart
  (``-remoteRead.url``) and sends alerts to Alertmanager (``-notifier.url``).

:class:`VictoriaMetricsStack` offers the same ``url`` / ``api`` / ``query`` / ``log`` calls
as :class:`examples.stack.Prometheus` (VictoriaMetrics serves the Prometheus query API), so the
demo and the tests treat both engines alike.  The flags that make vmalert's results equal
Prometheus' are in :data:`VM_FLAGS` and :func:`vmalert_flags`; ``docs/slo-rules.md`` explains
each.  Standard library only, so the demo runs with nothing but obskit installed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from examples.stack import LOOPBACK, QueryAPI, Server, free_port, scrape_jobs

#: VictoriaMetrics hides the newest 30 s of data from queries by default
#: (``-search.latencyOffset``): every vmalert query then reads the world as it was 30 s ago,
#: and every recording that reads another recording adds that much lag again (~30 s per link,
#: measured by benchmarks/bench_vmalert_lag.py).  A local single node ingests within a second
#: or two, so 2 s is enough; behind vminsert/vmselect, keep it above the cluster's ingestion
#: delay.
VM_FLAGS = ("-search.latencyOffset=2s",)


def vmalert_flags(interval: str) -> list[str]:
    """The vmalert flags that matter for obskit's rules (see ``docs/slo-rules.md``).

    * ``-evaluationInterval``: the interval of every group (obskit's groups set none);
    * ``-remoteWrite.flushInterval`` at most the interval: a recording reaches the database
      before the next evaluation reads it (the default 5 s delays every chained rule by 5 s);
    * ``-disableAlertgroupLabel``: no extra ``alertgroup`` label, so alerts carry exactly the
      labels Prometheus gives them and Alertmanager routes and groups them alike.
    """
    return [
        f"-evaluationInterval={interval}",
        f"-remoteWrite.flushInterval={interval}",
        "-disableAlertgroupLabel",
    ]


def scrape_config(targets: dict[str, Sequence[str]], interval: str) -> str:
    """vmagent's ``-promscrape.config``: the ``scrape_configs`` of a prometheus.yml (vmagent
    refuses the ``rule_files`` and ``evaluation_interval`` keys: rules are vmalert's job).  The
    job is named after the service, as obskit's default selector ``job="<service>"`` expects."""
    lines = ["global:", f"  scrape_interval: {interval}", *scrape_jobs(targets)]
    return "\n".join(lines) + "\n"


class VictoriaMetricsStack(QueryAPI):
    """victoria-metrics + vmagent + vmalert; use as a context manager so all three stop.

    ``targets`` maps a scrape job to ``host:port`` addresses; ``notifier_urls`` are the
    Alertmanagers vmalert sends to (vmalert refuses to start with alerting rules and none);
    ``binaries`` maps a binary name to its path (default: found on PATH).  ``vm_flags`` and
    ``vmalert_tuning`` replace :data:`VM_FLAGS` and :func:`vmalert_flags` (the benchmark of
    ``benchmarks/bench_vmalert_lag.py`` compares them with VictoriaMetrics' defaults).
    """

    def __init__(
        self,
        targets: dict[str, Sequence[str]],
        rule_files: Sequence[Path] = (),
        *,
        notifier_urls: Sequence[str] = (),
        interval: str = "1s",
        port: int | None = None,
        binaries: Mapping[str, str] | None = None,
        workdir: Path | None = None,
        vm_flags: Sequence[str] = VM_FLAGS,
        vmalert_tuning: Sequence[str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.vmalert_port = free_port()
        self.vmalert_url = f"http://{LOOPBACK}:{self.vmalert_port}"
        self.vmagent_port = free_port()
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="obskit-vm-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.scrape_config = self.workdir / "scrape.yml"
        self.scrape_config.write_text(scrape_config(targets, interval))

        def binary(name: str) -> str:
            return (binaries or {}).get(name) or shutil.which(name) or name

        self.rule_files = list(rule_files)
        self.interval = interval
        self._database = Server(
            "victoria-metrics",
            [
                binary("victoria-metrics"),
                f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr={LOOPBACK}:{self.port}",
                "-retentionPeriod=1d",
                *vm_flags,
            ],
            self.workdir / "victoria-metrics.log",
        )
        self._vmagent = Server(
            "vmagent",
            [
                binary("vmagent"),
                f"-promscrape.config={self.scrape_config}",
                f"-remoteWrite.url={self.url}/api/v1/write",
                f"-remoteWrite.tmpDataPath={self.workdir / 'vmagent'}",
                f"-httpListenAddr={LOOPBACK}:{self.vmagent_port}",
            ],
            self.workdir / "vmagent.log",
        )
        self._vmalert = Server(
            "vmalert",
            [
                binary("vmalert"),
                *[f"-rule={p}" for p in self.rule_files],
                f"-datasource.url={self.url}",
                f"-remoteWrite.url={self.url}",
                f"-remoteRead.url={self.url}",
                *[f"-notifier.url={u}" for u in notifier_urls],
                f"-httpListenAddr={LOOPBACK}:{self.vmalert_port}",
                *(vmalert_flags(interval) if vmalert_tuning is None else vmalert_tuning),
            ],
            self.workdir / "vmalert.log",
        )

    def start(
        self,
        timeout: float = 30.0,
        *,
        before_rules: Callable[[VictoriaMetricsStack], object] | None = None,
    ) -> VictoriaMetricsStack:
        """Start the database, then vmagent and vmalert; wait until each answers ``/health``.

        ``before_rules(self)`` runs once vmagent is up, before vmalert starts: for example a wait
        until the scraped series are queryable.  A new series becomes searchable in
        VictoriaMetrics a little later than the samples of series it already knows, and not at
        the same moment for every new series: rules evaluated in the first seconds can see a
        request counter's 5xx series a sample later than its total, and record that evaluation
        as 0 errors (obskit's errors rule reads a missing 5xx series as 0) — one sample that the
        long windows' ``sum_over_time`` then carries for their whole length."""
        try:
            self._database.start(f"{self.url}/health", timeout)
            self._vmagent.start(f"http://{LOOPBACK}:{self.vmagent_port}/health", timeout)
            if before_rules is not None:
                before_rules(self)
            self._vmalert.start(f"{self.vmalert_url}/health", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        """Everything the three servers printed so far."""
        servers = (self._database, self._vmagent, self._vmalert)
        return "\n".join(f"--- {s.name}\n{s.log()}" for s in servers)

    def stop(self) -> None:
        """Stop vmalert, vmagent and the database (SIGTERM, then SIGKILL); remove a temp folder."""
        for server in (self._vmalert, self._vmagent, self._database):
            server.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> VictoriaMetricsStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api_url(self, path: str) -> str:
        """``rules`` and ``alerts`` are vmalert's, everything else VictoriaMetrics' (which
        serves Prometheus' query API)."""
        base = self.vmalert_url if path in ("rules", "alerts") else self.url
        return f"{base}/api/v1/{path}"
