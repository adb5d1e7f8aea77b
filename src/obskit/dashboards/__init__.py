"""Grafana dashboards generated from SLO specs, and their import paths."""

__all__: list[str] = []
