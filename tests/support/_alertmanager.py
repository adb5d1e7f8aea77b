"""Alertmanager webhook receivers on 127.0.0.1, and the route tree the end-to-end tests load.

:class:`WebhookReceiver` is one HTTP server that records every notification Alertmanager POSTs
(webhook payload version 4), with the path it was sent to and when it arrived, so one server
stands in for every receiver of every Alertmanager: the path names the receiver.
:func:`severity_routes` writes an Alertmanager configuration that sends obskit's page alerts to
one webhook and its ticket alerts to another, matching on obskit's real severity label.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from examples.stack import LocalServer, QuietHandler

from obskit import conventions as c

__all__ = ["Notification", "WebhookReceiver", "severity_routes"]


@dataclass(frozen=True)
class Notification:
    """One webhook call: the path it was POSTed to, the decoded payload, its arrival time."""

    path: str
    payload: dict[str, Any]
    at: float  # time.time()

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The alerts of the notification (Alertmanager groups several into one call)."""
        alerts: list[dict[str, Any]] = self.payload.get("alerts", [])
        return alerts


class WebhookReceiver:
    """An HTTP server on a free loopback port keeping every JSON body POSTed to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"invalid_json": body.decode("utf-8", "replace")}
                with receiver._lock:
                    receiver._received.append(Notification(self.path, payload, time.time()))
                self.reply(200, b"", "text/plain")

        self._http = LocalServer(Handler)

    @property
    def url(self) -> str:
        """The server's base URL; append the receiver's path."""
        return self._http.url

    def start(self) -> WebhookReceiver:
        """Serve in a daemon thread; returns ``self``."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.stop()

    def received(self, prefix: str = "") -> list[Notification]:
        """Every notification so far whose path starts with ``prefix``, in arrival order."""
        with self._lock:
            return [n for n in self._received if n.path.startswith(prefix)]


def severity_routes(webhooks: Mapping[str, str], *, group_wait: str = "1s") -> str:
    """An Alertmanager configuration routing on obskit's severity label.

    ``webhooks`` maps a receiver name to its URL and must name ``page``, ``ticket`` and
    ``unrouted``: alerts whose :data:`obskit.conventions.ALERT_LABEL_SEVERITY` is ``page`` go to
    ``page``, ``ticket`` to ``ticket``, anything else to ``unrouted`` (which a test expects to stay
    empty).  ``group_by: ['...']`` makes every alert its own group, so each one is notified on
    its own after ``group_wait``.
    """
    routes = [
        {"matchers": [f'{c.ALERT_LABEL_SEVERITY}="{severity}"'], "receiver": severity}
        for severity in ("page", "ticket")
    ]
    config = {
        "route": {
            "receiver": "unrouted",
            "group_by": ["..."],
            "group_wait": group_wait,
            "group_interval": "1s",
            "repeat_interval": "1h",
            "routes": routes,
        },
        "receivers": [
            {"name": name, "webhook_configs": [{"url": url, "send_resolved": False}]}
            for name, url in sorted(webhooks.items())
        ],
    }
    return json.dumps(config, indent=2) + "\n"  # JSON is YAML: Alertmanager reads it as is
