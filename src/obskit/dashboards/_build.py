"""Dashboards written by ``obskit slo build`` (the interface the build command calls).

:func:`add_build_arguments` adds the dashboard flags, :func:`options_from_args` reads them and
:func:`render` returns every file of ``<out>/dashboards/`` as ``{relative path: content}``:

* ``<folder>/slo-<service>.json`` — one dashboard per service (folder from the service's
  ``team`` label, else ``obskit``);
* ``obskit/obskit-slo-fleet.json`` — the fleet overview of the build;
* ``obskit/obskit-service.json`` — the generic service dashboard, so the folder is complete;
* ``provider.yaml`` — a Grafana file-provisioning provider for the folder;
* ``configmaps/<uid>.yaml`` — with ``--dashboards-configmaps``, one ConfigMap per dashboard.

The output is deterministic: sorted keys, stable uids and panel ids, no timestamps.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from obskit.dashboards._fleet import fleet_dashboard
from obskit.dashboards._generic import generic_dashboard
from obskit.dashboards._ids import safe_path_component, service_uid
from obskit.dashboards._panels import Json
from obskit.dashboards._provisioning import (
    DEFAULT_PROVISIONING_PATH,
    configmap_yaml,
    dump_dashboard,
    provider_yaml,
)
from obskit.dashboards._service import service_dashboard
from obskit.slo._model import Service

#: Folder of the fleet overview, the generic dashboard and services without a folder label.
DEFAULT_FOLDER: Final = "obskit"
DEFAULT_FOLDER_LABEL: Final = "team"
PROVIDER_FILE: Final = "provider.yaml"


@dataclass(frozen=True)
class DashboardOptions:
    """How ``obskit slo build`` writes dashboards (set from its command-line flags)."""

    enabled: bool = True
    #: Also write one Kubernetes ConfigMap per dashboard (Grafana sidecar).
    configmaps: bool = False
    #: Where Grafana finds the dashboards folder (written into ``provider.yaml``).
    provisioning_path: str = DEFAULT_PROVISIONING_PATH
    #: Service label whose value names the service dashboard's Grafana folder.
    folder_label: str = DEFAULT_FOLDER_LABEL
    #: ``metadata.namespace`` of the ConfigMaps (none: the namespace ``kubectl`` applies to).
    namespace: str | None = None


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dashboard flags to ``obskit slo build``."""
    group = parser.add_argument_group("dashboards")
    group.add_argument(
        "--no-dashboards",
        dest="dashboards_enabled",
        action="store_false",
        help="write no Grafana dashboards",
    )
    group.add_argument(
        "--dashboards-configmaps",
        action="store_true",
        help='also write a ConfigMap per dashboard labelled grafana_dashboard: "1"',
    )
    group.add_argument(
        "--dashboards-path",
        default=DEFAULT_PROVISIONING_PATH,
        metavar="PATH",
        help="where Grafana reads the dashboards, for provider.yaml (default: %(default)s)",
    )
    group.add_argument(
        "--dashboards-folder-label",
        default=DEFAULT_FOLDER_LABEL,
        metavar="LABEL",
        help="service label naming each dashboard's Grafana folder (default: %(default)s)",
    )
    group.add_argument(
        "--dashboards-namespace",
        default=None,
        metavar="NS",
        help="Kubernetes namespace of the ConfigMaps",
    )


def options_from_args(args: argparse.Namespace) -> DashboardOptions:
    """The :class:`DashboardOptions` the parsed flags ask for."""
    return DashboardOptions(
        enabled=getattr(args, "dashboards_enabled", True),
        configmaps=getattr(args, "dashboards_configmaps", False),
        provisioning_path=getattr(args, "dashboards_path", DEFAULT_PROVISIONING_PATH),
        folder_label=getattr(args, "dashboards_folder_label", DEFAULT_FOLDER_LABEL),
        namespace=getattr(args, "dashboards_namespace", None),
    )


def service_folder(service: Service, options: DashboardOptions) -> str:
    """The Grafana folder (and sub-folder name) of ``service``'s dashboard."""
    value = service.labels.get(options.folder_label, "")
    return safe_path_component(value, DEFAULT_FOLDER) if value else DEFAULT_FOLDER


def render(services: Sequence[Service], options: DashboardOptions) -> dict[str, str]:
    """Every dashboard file of a build: path relative to ``<out>/dashboards/`` → file content.

    Raises:
        ValueError: two services would share a dashboard uid (duplicate service names).
    """
    if not options.enabled:
        return {}
    placed: list[tuple[str, str, Json]] = []  # (folder, uid, dashboard)
    seen: dict[str, str] = {}
    for service in sorted(services, key=lambda s: s.name):
        uid = service_uid(service.name)
        if uid in seen:
            raise ValueError(
                f"services {seen[uid]!r} and {service.name!r} share the dashboard uid {uid!r}"
            )
        seen[uid] = service.name
        placed.append((service_folder(service, options), uid, service_dashboard(service)))
    if services:
        fleet = fleet_dashboard(sorted(services, key=lambda s: s.name))
        placed.append((DEFAULT_FOLDER, fleet["uid"], fleet))
    generic = generic_dashboard()
    placed.append((DEFAULT_FOLDER, generic["uid"], generic))

    files: dict[str, str] = {PROVIDER_FILE: provider_yaml(options.provisioning_path)}
    for folder, uid, dashboard in placed:
        text = dump_dashboard(dashboard)
        files[f"{folder}/{uid}.json"] = text
        if options.configmaps:
            files[f"configmaps/{uid}.yaml"] = configmap_yaml(
                uid, dashboard, folder, options.namespace
            )
    return dict(sorted(files.items()))
