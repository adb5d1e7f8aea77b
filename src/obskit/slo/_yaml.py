"""YAML loading that remembers the line of every mapping key and sequence item.

PyYAML's composer (the C one when libyaml is available) builds a node tree with positions;
this module turns each document into plain Python values plus a ``{path: line}`` table, and
wraps it in a :class:`Document` whose typed getters report problems as
:class:`~obskit.slo._errors.SpecError` s naming the file, the line and the field.  Loaders
never see YAML nodes, and every getter *collects* errors instead of raising, so one run
reports every problem of every file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from obskit.slo._errors import SpecError

__all__ = ["Document", "Path", "field_name", "load_documents"]

#: A field's path inside a document: mapping keys and sequence indexes.
Path = tuple[str | int, ...]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Fields per document before loading stops: aliases are expanded into copies, so a few nested
#: anchors ("billion laughs") could otherwise exhaust memory.  Real specs use a few hundred.
MAX_FIELDS = 200_000


class _TooLarge(Exception):
    """A document expanded past :data:`MAX_FIELDS` fields."""


_MISSING: Any = object()


def field_name(path: Path) -> str:
    """``("slos", 1, "objective")`` → ``slos[1].objective`` (indexes are 0-based)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class Document:
    """One YAML document: its values, the line of each field, and the errors found in it."""

    def __init__(
        self,
        path: str,
        index: int,
        line: int,
        data: Any,
        lines: dict[Path, int],
        texts: dict[Path, str] | None = None,
    ) -> None:
        self.path = path
        #: 0-based position of the document in its file.
        self.index = index
        self.line = line
        self.data = data
        self.lines = lines
        #: The source text of every scalar that is not a string (``true``, ``2``, ``1.50``):
        #: Sloth's Go decoders turn those into label strings exactly as written.
        self.texts: dict[Path, str] = texts if texts is not None else {}
        self.errors: list[SpecError] = []

    def item(self, index: int) -> Document:
        """Item ``index`` of a document that is a list (OpenSLO's list form) as a document."""
        prefix = (index,)
        lines = {p[1:]: n for p, n in self.lines.items() if p[:1] == prefix}
        texts = {p[1:]: t for p, t in self.texts.items() if p[:1] == prefix}
        line = self.lines.get(prefix, self.line)
        return Document(self.path, self.index, line, self.data[index], lines, texts)

    # -- locating -----------------------------------------------------------------------

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its closest ancestor present in the file."""
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return self.line

    def error(self, path: Path, message: str) -> None:
        """Record a problem at ``path`` (once: two checks may meet the same missing field)."""
        line, field = self.line_of(path), field_name(path)
        for seen in self.errors:
            if (seen.line, seen.field, seen.message) == (line, field, message):
                return
        self.errors.append(SpecError(self.path, line, field, message))

    def get(self, path: Path, default: Any = None) -> Any:
        """The raw value at ``path`` (``default`` when any step is missing)."""
        value = self.data
        for part in path:
            if isinstance(part, int):
                if not isinstance(value, list) or part >= len(value):
                    return default
            elif not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    # -- typed getters: each records an error and returns None (or a default) on bad input --

    def mapping(
        self,
        path: Path,
        allowed: Iterable[str],
        *,
        required: Iterable[str] = (),
        optional: bool = False,
        ignored: Iterable[str] = (),
        unsupported: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """The mapping at ``path``; unknown keys (typos) and missing required keys are errors.

        ``ignored`` keys are accepted and have no effect (another tool's spelling that the tool
        itself ignores); ``unsupported`` keys are known but refused, each with its reason.
        """
        value = self.get(path, _MISSING)
        if value is _MISSING or value is None:
            if not optional:
                self.error(path, "is required" if path else "document is empty")
            return None
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, not {_kind(value)}")
            return None
        allowed = tuple(allowed)
        skip = frozenset(ignored)
        refused = unsupported or {}
        for key in value:
            if key in refused:
                self.error((*path, key), f"not supported: {refused[key]}")
            elif key not in allowed and key not in skip:
                self.error((*path, key), unknown_key_message(key, (*allowed, *refused)))
        for key in required:
            if value.get(key) is None:
                self.error((*path, key), "is required")
        return value

    def string(self, path: Path, *, required: bool = False) -> str | None:
        """A non-empty string at ``path``; ``None`` when absent (an error if ``required``)."""
        value = self.get(path)
        if value is None:
            if required:
                self.error(path, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(path, "must be a non-empty string")
            return None
        return value

    def number(self, path: Path, *, required: bool = False) -> float | None:
        """A number at ``path`` (``true``/``false`` and quoted numbers are rejected)."""
        value = self.get(path)
        if value is None:
            if required:
                self.error(path, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"must be a number, not {_kind(value)}")
            return None
        return float(value)

    def boolean(self, path: Path, default: bool) -> bool:
        """``true``/``false`` at ``path``; ``default`` when absent."""
        value = self.get(path)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, not {_kind(value)}")
            return default
        return value

    def string_list(self, path: Path) -> list[str] | None:
        """A non-empty list of non-empty strings (numbers are accepted and kept as written)."""
        value = self.get(path)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.error(path, "must be a non-empty list")
            return None
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int):
                self.error((*path, i), f"must be a string, not {_kind(item)}")
            elif not str(item).strip():
                self.error((*path, i), "must be a non-empty string")
            else:
                out.append(str(item))
        return out

    def string_map(self, path: Path, *, as_written: bool = False) -> dict[str, str]:
        """A mapping of names to string values (numbers are kept as written); ``{}`` if absent.

        With ``as_written``, booleans and numbers become their source text (``true``, ``1.50``),
        the way Go's YAML decoders fill a ``map[string]string``.
        """
        value = self.get(path)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, not {_kind(value)}")
            return {}
        out: dict[str, str] = {}
        for key, item in value.items():
            text = self.texts.get((*path, key)) if as_written else None
            if text is not None and isinstance(item, bool | int | float):
                out[key] = text
            elif isinstance(item, bool) or not isinstance(item, str | int | float):
                self.error((*path, key), f"must be a string, not {_kind(item)}")
            else:
                out[key] = item if isinstance(item, str) else _number_text(item)
        return out


def unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    """``unknown key`` plus the closest valid key, if one is close enough to be a typo."""
    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return "unknown key; valid keys: " + ", ".join(allowed)


def _number_text(value: int | float) -> str:
    return repr(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# -- parsing --------------------------------------------------------------------------------


def load_documents(path: str, text: str) -> tuple[list[Document], list[SpecError]]:
    """Parse every document of ``text``; ``path`` is only used in error messages.

    Returns the non-empty documents and the errors (a syntax error stops the file: YAML after
    it cannot be trusted).  A file with no non-empty document is an error.
    """
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is not None and not _is_null(node):
                lines: dict[Path, int] = {}
                texts: dict[Path, str] = {}
                errors: list[SpecError] = []
                data = _convert(loader, node, (), (lines, texts), errors, path)
                doc = Document(path, index, node.start_mark.line + 1, data, lines, texts)
                doc.errors.extend(errors)
                docs.append(doc)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        return docs, [SpecError(path, line, "", f"YAML syntax error: {problem}")]
    except _TooLarge:
        message = f"document too large: more than {MAX_FIELDS} fields once aliases are expanded"
        return docs, [SpecError(path, 0, "", message)]
    except yaml.YAMLError as exc:  # e.g. a reader error (control characters)
        return docs, [SpecError(path, 0, "", f"YAML error: {exc}")]
    finally:
        loader.dispose()
    if not docs:
        return docs, [SpecError(path, 0, "", "file is empty: no YAML document in it")]
    return docs, []


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _convert(
    loader: Any,
    node: yaml.Node,
    path: Path,
    tables: tuple[dict[Path, int], dict[Path, str]],
    errors: list[SpecError],
    file: str,
) -> Any:
    """Node → plain value, recording the line of every key and item under ``path``."""
    lines = tables[0]
    if isinstance(node, yaml.MappingNode):
        own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)  # resolve `<<: *anchor` merge keys like safe_load does
        merged = len(node.value) - own  # merged pairs come first; the mapping's own keys win
        out: dict[Any, Any] = {}
        own_keys: set[Any] = set()
        for i, (key_node, value_node) in enumerate(node.value):
            key = _scalar(loader, key_node)
            if not isinstance(key, str):
                key = str(key) if isinstance(key, int | float | bool) else repr(key)
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if i >= merged:
                duplicate = key in own_keys
                own_keys.add(key)
            else:
                duplicate = False
            if duplicate:
                errors.append(
                    SpecError(file, line, field_name(child), "duplicate key in the same mapping")
                )
            lines[child] = line
            if len(lines) > MAX_FIELDS:
                raise _TooLarge
            out[key] = _convert(loader, value_node, child, tables, errors, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item_node in enumerate(node.value):
            child = (*path, i)
            lines[child] = item_node.start_mark.line + 1
            if len(lines) > MAX_FIELDS:
                raise _TooLarge
            items.append(_convert(loader, item_node, child, tables, errors, file))
        return items
    value = _scalar(loader, node)
    if not isinstance(value, str) and isinstance(node, yaml.ScalarNode):
        tables[1][path] = node.value
    return value


_STR_TAG = "tag:yaml.org,2002:str"


def _scalar(loader: Any, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return f"<{type(node).__name__}>"
    if node.tag == _STR_TAG:  # most scalars: skip the constructor's dispatch
        return node.value
    return loader.construct_object(node, deep=True)
