"""The runtime's one-way import rule, checked on the source (``docs/architecture.md``).

``obskit._runtime`` is layered; a module may import from its own layer or a lower one, never a
higher one, and the imports between its modules form no cycle.  Lowest first:

0. ``obskit.conventions`` — every name the runtime emits;
1. config: ``config``, ``envcheck``, ``urls`` — options and ``OBSKIT_*``/``OTEL_*`` checks;
2. shared: ``redact``, ``context``, ``internals``, ``heap`` — what every signal needs (redaction,
   the OTel context, the one warning a failing private internal gets, the start-up heap freeze);
3. signals: ``logs/``, ``metrics/``, ``tracing/`` — each knows nothing of the other two;
4. ``state`` — the one process-wide record of what ``init()`` built;
5. ``http/`` (the middleware, ``/metrics``) and ``observe`` — what runs per request/operation;
6. ``integrations/`` — one module per framework or server, hooking them into ``http``;
7. ``lifecycle`` — ``init()``/``shutdown()``, which wires everything above; ``selftest`` — the
   private internals' checks ``init()`` runs on the state it built.

Two packages split by concern are ordered inside too (:data:`INNER`): ``envcheck/`` (the
``Problem`` record and basic checks, then the checks of each concern, then the rule running them
all) and ``integrations/django/`` (what a request hands the middleware, Django's loggers and the
lifespan; then ``RouteMiddleware`` and the handler patches; then when they are applied).  Each
package's ``__init__`` only re-exports, above its modules.

Every import counts: module level, inside functions (lazy) and under ``TYPE_CHECKING``, so the
rule says what the code may *know*, not only what it loads first.  A new module must be given a
layer here, which is the moment to decide where it belongs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import obskit

PACKAGE = Path(obskit.__file__).parent / "_runtime"
SIGNALS = ("logs", "metrics", "tracing")
LAYERS: dict[str, int] = {
    "obskit.conventions": 0,
    "config": 1,
    "envcheck": 1,
    "urls": 1,
    "redact": 2,
    "context": 2,
    "internals": 2,
    "heap": 2,
    "logs": 3,
    "metrics": 3,
    "tracing": 3,
    "state": 4,
    "http": 5,
    "observe": 5,
    "integrations": 6,
    "lifecycle": 7,
    "selftest": 7,
}

#: Package (below ``obskit._runtime``) → rank of each of its modules, lowest first: a module of
#: the package may import one of its own rank or lower; the package's ``__init__`` is above all.
INNER: dict[str, dict[str, int]] = {
    "envcheck": {"problem": 0, "lists": 1, "exporter": 1, "sdk": 1, "rule": 2},
    "integrations.django": {
        "routes": 0,
        "loggers": 0,
        "lifespan": 0,
        "middleware": 1,
        "handlers": 1,
        "imports": 2,
    },
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    """The key of ``module`` in :data:`LAYERS` (its first part below ``obskit._runtime``)."""
    if module == "obskit.conventions":
        return module
    rest = module.removeprefix("obskit._runtime.")
    return rest.split(".", 1)[0]


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if p.parent.name != "__pycache__"}


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a runtime module or of ``obskit.conventions``
    (``from obskit._runtime.logs import bridge`` is the module ``...logs.bridge``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]  # fmt: skip
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == "obskit.conventions" or target in modules:
                found.append((node.lineno, target))
    return found


def _violation(module: str, target: str) -> str | None:
    """Why ``module`` may not import ``target`` (None: it may)."""
    unit, other = _unit(module), _unit(target)
    if unit not in LAYERS:
        return f"{module} has no layer in LAYERS"
    if other not in LAYERS:
        return f"{target} has no layer in LAYERS"
    if LAYERS[other] > LAYERS[unit]:
        return (
            f"{unit} (layer {LAYERS[unit]}) imports {target} (layer {LAYERS[other]}): "
            "imports run one way, downward"
        )
    if unit in SIGNALS and other in SIGNALS and other != unit:
        return f"signal {unit} imports signal {other}"
    return _inner_violation(module, target)


def _inner_violation(module: str, target: str) -> str | None:
    """Why ``module`` may not import ``target`` of the same :data:`INNER` package (None: may)."""
    for package, ranks in INNER.items():
        base = f"obskit._runtime.{package}"
        inside = [m == base or m.startswith(base + ".") for m in (module, target)]
        if not all(inside) or target == base:
            continue
        rank = {base: len(ranks)} | {f"{base}.{name}": r for name, r in ranks.items()}
        for name in (module, target):
            if name not in rank:
                return f"{name} has no rank in INNER[{package!r}]"
        if rank[target] > rank[module]:
            return (
                f"{module} (rank {rank[module]}) imports {target} (rank {rank[target]}) in "
                f"{package}: imports run one way, downward"
            )
    return None


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Imports between the package's modules, and every rule violation, with file and line."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    problems: list[str] = []
    for module, path in modules.items():
        if module == "obskit._runtime":
            continue
        for line, target in _imports(path, modules):
            why = _violation(module, target)
            if why is not None:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {why}")
            if target in graph and target != module:
                graph[module].add(target)
    return graph, problems


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_runtime_imports_run_one_way() -> None:
    """No runtime module imports a module of a higher layer, and no signal another signal."""
    problems = _graph()[1]
    assert problems == []


def test_runtime_imports_have_no_cycle() -> None:
    """The imports between the runtime's modules (lazy ones included) form no cycle."""
    graph, _problems = _graph()
    assert _cycle(graph) is None


def test_the_checker_sees_an_upward_import_a_sideways_signal_and_a_cycle() -> None:
    """The rule itself fails when it should (and the graph holds the edges it checks)."""
    assert _violation("obskit._runtime.state", "obskit._runtime.http.asgi") is not None
    assert _violation("obskit._runtime.logs.bridge", "obskit._runtime.tracing.span") is not None
    assert _violation("obskit._runtime.http.asgi", "obskit._runtime.state") is None
    assert _violation("obskit._runtime.logs.bridge", "obskit._runtime.logs.loggers") is None
    assert _violation("obskit._runtime.new_module", "obskit.conventions") is not None
    envcheck, django = "obskit._runtime.envcheck", "obskit._runtime.integrations.django"
    assert _violation(f"{envcheck}.problem", f"{envcheck}.rule") is not None
    assert _violation(f"{envcheck}.lists", f"{envcheck}.problem") is None
    assert _violation(f"{envcheck}.new_module", f"{envcheck}.problem") is not None
    assert _violation(envcheck, f"{envcheck}.rule") is None
    assert _violation(f"{django}.routes", f"{django}.handlers") is not None
    assert _violation(f"{django}.imports", f"{django}.handlers") is None
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    graph, _problems = _graph()
    assert "obskit._runtime.state" in graph["obskit._runtime.http.request"]
    assert "obskit._runtime.logs.loggers" in graph["obskit._runtime.logs.bridge"]
    assert f"{django}.handlers" in graph[f"{django}.imports"]
    assert f"{envcheck}.problem" in graph[f"{envcheck}.rule"]
