"""Scrape a ``/metrics`` endpoint as Prometheus does (OpenMetrics) and query the samples."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.openmetrics.parser import text_string_to_metric_families

__all__ = ["OPENMETRICS_ACCEPT", "Sample", "Scrape", "parse_openmetrics", "scrape"]

#: What Prometheus sends when it wants exemplars.
OPENMETRICS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


@dataclass(frozen=True)
class Sample:
    """One sample line: full sample name (``…_bucket``/``…_count`` …), labels, value, and the
    exemplar's labels and value when one is attached."""

    name: str
    labels: dict[str, str]
    value: float
    exemplar: dict[str, str] | None = None
    exemplar_value: float | None = None


@dataclass
class Scrape:
    """The result of one scrape: the raw text, its content type, and every sample."""

    text: str
    content_type: str
    samples: list[Sample] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)

    def find(self, name: str, **labels: str) -> list[Sample]:
        """Samples named exactly ``name`` whose labels include ``labels``."""
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """Sum of the values of :meth:`find` (0.0 when nothing matches)."""
        return sum(s.value for s in self.find(name, **labels))

    def label_values(self, name: str, label: str) -> set[str]:
        """Distinct values of ``label`` across samples named ``name``."""
        return {s.labels[label] for s in self.find(name) if label in s.labels}

    def exemplars(self, name: str, **labels: str) -> Iterator[Sample]:
        """Samples of :meth:`find` that carry an exemplar."""
        return (s for s in self.find(name, **labels) if s.exemplar is not None)


def parse_openmetrics(text: str, content_type: str = "") -> Scrape:
    """Parse an OpenMetrics exposition (exemplars included) into a :class:`Scrape`."""
    result = Scrape(text=text, content_type=content_type)
    for family in text_string_to_metric_families(text):  # type: ignore[no-untyped-call]
        result.types[family.name] = family.type
        for s in family.samples:
            exemplar = s.exemplar
            result.samples.append(
                Sample(
                    name=s.name,
                    labels=dict(s.labels),
                    value=float(s.value),
                    exemplar=None if exemplar is None else dict(exemplar.labels),
                    exemplar_value=None if exemplar is None else float(exemplar.value),
                )
            )
    return result


def scrape(url: str, *, timeout: float = 5.0) -> Scrape:
    """GET ``url`` asking for OpenMetrics, as Prometheus with exemplar storage does.

    Raises:
        AssertionError: when the endpoint does not answer with OpenMetrics (then exemplars would
            silently be lost).
    """
    request = urllib.request.Request(url, headers={"Accept": OPENMETRICS_ACCEPT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    if not content_type.startswith("application/openmetrics-text"):
        raise AssertionError(
            f"{url} answered {content_type!r} to an OpenMetrics Accept header; first lines:\n"
            + "\n".join(text.splitlines()[:5])
        )
    return parse_openmetrics(text, content_type)
