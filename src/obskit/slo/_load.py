"""Load SLO specs from files and folders: every format, every check, every error at once."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Final

from obskit.slo._errors import SpecError, SpecErrors
from obskit.slo._model import SLO, Service, Source
from obskit.slo._native import load_native
from obskit.slo._openslo import OpenSLOIndex, load_openslo, openslo_kind
from obskit.slo._pyrra import PYRRA_API, load_pyrra
from obskit.slo._sloth import SLOTH_CRD_API, SLOTH_VERSION, load_sloth
from obskit.slo._yaml import Document, load_documents

__all__ = ["expand_paths", "load_paths"]

_SUFFIXES = (".yaml", ".yml")


def load_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Service]:
    """Load every spec under ``paths`` (files, or folders searched recursively).

    Folders contribute their ``*.yaml``/``*.yml`` files in sorted order; the format of each
    YAML document is detected on its own (native, Sloth ``prometheus/v1``, OpenSLO v1, Pyrra
    ``pyrra.dev/v1alpha1``).

    Returns:
        The services sorted by name, each with its SLOs in file order.

    Raises:
        SpecErrors: every problem found in every file (nothing is returned if there is one).
    """
    errors: list[SpecError] = []
    docs: list[Document] = []
    files = expand_paths(paths, errors)
    for file in files:
        text = _read(file, errors)
        if text is not None:
            file_docs, file_errors = load_documents(file, text)
            docs.extend(item for doc in file_docs for item in _objects(doc))
            errors.extend(file_errors)
    services = _translate(docs, errors)
    if errors:
        # Report file by file (in the order read), each file's problems top to bottom.
        order = {file: i for i, file in enumerate(files)}
        raise SpecErrors(sorted(errors, key=lambda e: (order.get(e.path, -1), e.line)))
    return sorted(services, key=lambda s: s.name)


def expand_paths(paths: Sequence[str | os.PathLike[str]], errors: list[SpecError]) -> list[str]:
    """Files named directly, plus the YAML files under each folder (sorted, recursive)."""
    files: list[str] = []
    seen: set[str] = set()
    for raw in paths:
        path = FsPath(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not found:
                errors.append(SpecError(str(path), 0, "", "no *.yaml or *.yml file in folder"))
            candidates = [str(p) for p in found]
        elif path.exists():
            candidates = [str(path)]
        else:
            errors.append(SpecError(str(path), 0, "", "no such file or folder"))
            continue
        for file in candidates:
            key = os.path.realpath(file)
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files


def _read(file: str, errors: list[SpecError]) -> str | None:
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        errors.append(SpecError(file, 0, "", f"cannot read: not UTF-8 text ({exc.reason})"))
    except OSError as exc:
        errors.append(SpecError(file, 0, "", f"cannot read: {exc.strerror or exc}"))
    return None


def _objects(doc: Document) -> list[Document]:
    """OpenSLO's list form (a document that is a list of objects, as the OpenSLO Go SDK and
    ``oslo`` read it) → one document per object; any other document unchanged."""
    data = doc.data
    if (
        isinstance(data, list)
        and data
        and all(isinstance(item, dict) and "apiVersion" in item for item in data)
    ):
        return [doc.item(i) for i in range(len(data))]
    return [doc]


def _format(doc: Document) -> str | None:
    """``native``, ``sloth``, ``openslo``, or ``None`` after recording why it is unknown."""
    data = doc.data
    if not isinstance(data, dict):
        doc.error((), "a spec document must be a mapping (service: …, slos: …)")
        return None
    api = data.get("apiVersion")
    if api is not None:
        if api == "openslo/v1":
            return "openslo"
        if api == SLOTH_CRD_API:
            return "sloth"
        if api == PYRRA_API:
            return "pyrra"
        doc.error(
            ("apiVersion",),
            f"unsupported apiVersion {api!r}: obskit reads openslo/v1, {SLOTH_CRD_API} "
            f"and {PYRRA_API}",
        )
        return None
    version = data.get("version")
    if version is not None:
        if version == SLOTH_VERSION:
            return "sloth"
        doc.error(("version",), f"unsupported version {version!r}: Sloth specs use {SLOTH_VERSION}")
        return None
    return "native"


def _translate(docs: list[Document], errors: list[SpecError]) -> list[Service]:
    formats = [_format(doc) for doc in docs]
    index = OpenSLOIndex()
    for doc, fmt in zip(docs, formats, strict=True):
        if fmt == "openslo":
            index.add(doc)
    # Each unit is (service, document it came from, format).
    units: list[tuple[Service, Document, str]] = []
    for doc, fmt in zip(docs, formats, strict=True):
        service: Service | None = None
        if fmt == "native":
            service = load_native(doc)
        elif fmt == "sloth":
            service = load_sloth(doc)
        elif fmt == "openslo" and openslo_kind(doc) == "SLO":
            service = load_openslo(doc, index)
        elif fmt == "pyrra":
            service = load_pyrra(doc)
        if service is not None and fmt is not None:
            units.append((service, doc, fmt))
    index.check_all()
    for doc in docs:  # after translation: OpenSLO SLIs are checked when an SLO uses them
        errors.extend(doc.errors)
    return _merge(units, errors)


#: Formats whose documents may share a service: Sloth builds each file on its own, so a service
#: split over several Sloth files is one service; OpenSLO SLOs name their service one by one, and
#: so do Pyrra objects (one object per SLO, a service's objects in any number of files).
_MERGEABLE: Final = ("sloth", "openslo", "pyrra")


def _merge(units: list[tuple[Service, Document, str]], errors: list[SpecError]) -> list[Service]:
    """One service per name: Sloth documents of one service, OpenSLO SLOs or Pyrra objects merge."""
    by_name: dict[str, tuple[Service, Document, str]] = {}
    for service, doc, fmt in units:
        first = by_name.get(service.name)
        if first is None:
            by_name[service.name] = (service, doc, fmt)
            continue
        other, other_doc, other_fmt = first
        if fmt == other_fmt and fmt in _MERGEABLE:
            by_name[service.name] = (_merge_slos(other, service, doc, errors), other_doc, fmt)
            continue
        where = f"{other.source.path}:{other.source.line}"
        # OpenSLO documents and the Sloth CRD name the service under `spec`.
        key: tuple[str, ...] = ("service",) if "service" in doc.data else ("spec", "service")
        if doc.data.get("apiVersion") == PYRRA_API:
            key = ("metadata", "name")
        errors.append(
            SpecError(
                doc.path,
                doc.line_of(key),
                ".".join(key),
                f"{service.name!r} is already defined in {where}: "
                + (
                    "keep each service in one file"
                    if fmt == other_fmt
                    else f"keep each service in one format (that one is {other_fmt})"
                ),
            )
        )
    return [unit[0] for unit in by_name.values()]


def _merge_slos(first: Service, second: Service, doc: Document, errors: list[SpecError]) -> Service:
    slos: list[SLO] = list(first.slos)
    names = {slo.name: slo for slo in slos}
    for i, slo in enumerate(second.slos):
        seen = names.get(slo.name)
        if seen is not None:
            if "slos" in doc.data:
                field = f"slos[{i}].name"
            elif isinstance(doc.data.get("spec"), dict) and "slos" in doc.data["spec"]:
                field = f"spec.slos[{i}].name"
            else:
                field = "metadata.name"
            errors.append(
                SpecError(
                    slo.source.path,
                    slo.source.line,
                    field,
                    f"duplicate SLO name {slo.name!r} in service {slo.service!r}: also defined "
                    f"at {seen.source.path}:{seen.source.line}",
                )
            )
        else:
            names[slo.name] = slo
            slos.append(slo)
    # Each SLO already carries its own file's service labels; keep only the shared ones here.
    labels = {k: v for k, v in first.labels.items() if second.labels.get(k) == v}
    return Service(
        name=first.name,
        slos=tuple(slos),
        source=Source(first.source.path, first.source.line),
        selector=first.selector,
        labels=labels,
    )


def _where(first: SLO, second: SLO) -> str:
    """Where ``first`` was defined, as seen from ``second``'s file (line only if the same)."""
    if first.source.path == second.source.path:
        return f"line {first.source.line}"
    return f"{first.source.path}:{first.source.line}"
