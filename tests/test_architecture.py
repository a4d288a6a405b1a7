"""The layering rules of docs/architecture.md and /work/shared/DESIGN.md, checked on the source.

Every module of ``src/kanlab`` is parsed with :mod:`ast` (nothing is imported) and its imports,
relative and absolute, top-level and inside functions, become the edges of a module graph. An
import names the module it loads: ``from ..core.network import KANNetwork`` is an edge to
``kanlab.core.network``, ``from .. import symbolic`` an edge to the package ``kanlab.symbolic``.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "kanlab"
MAX_FUNCTION_LINES = 80

# Layers, bottom (0) to top. A module may import its own package and packages of a strictly lower
# rank; two packages of the same rank do not import each other. The order is DESIGN.md's (kernels <
# core < symbolic < training < interpret < sklearn < discover < facade), with the side packages
# placed where their job puts them: datasets beside kernels (they need only validate), baselines
# beside symbolic (an MLP next to the network), io and export above core and symbolic (they store
# and translate networks with symbolic edges). The experiments and the CLI are clients of the
# public API, so they sit above the facade ``model.py`` and the package ``__init__``.
RANKS = {
    "validate": 0,
    "kernels": 1,
    "datasets": 1,
    "core": 2,
    "symbolic": 3,
    "baselines": 3,
    "training": 4,
    "io": 4,
    # structure tests on any callable (kanlab.structure): imports only validate today; rank 4 so it
    # may use symbolic fits later, and discovery (7) imports its split and symmetry tests from it
    "structure": 4,
    "interpret": 5,
    "export": 5,
    "sklearn": 6,
    "discovery": 7,
    # the interactive explorer (Workbench + local web app): uses symbolic, training, interpret and io;
    # above discovery, below the facade, because KAN.explore (model.py) delegates to it
    "explorer": 7.5,
    "model": 8,
    "formula": 8,  # public re-export shim of kanlab.symbolic.formula
    "__init__": 9,  # the package kanlab itself
    "experiments": 10,
    "train_cli": 10,  # `kanlab train` (streamed / distributed fits), registered by the CLI
    "cli": 11,
    "__main__": 12,  # python -m kanlab (and torchrun -m kanlab)
}


def _module_names() -> dict[str, tuple[pathlib.Path, bool]]:
    mods = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mods[".".join(parts)] = (path, is_pkg)
    return mods


MODULES = _module_names()


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The kanlab modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "kanlab"]
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
        if target.split(".")[0] != "kanlab":
            return []
    # ``from pkg import name``: ``name`` is a submodule when one exists, else an attribute of pkg
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]


def _build_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first import}."""
    graph: dict[str, dict[str, int]] = {}
    for module, (path, is_pkg) in MODULES.items():
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, is_pkg, node):
                    if target != module:
                        edges.setdefault(target, node.lineno)
        graph[module] = edges
    return graph


GRAPH = _build_graph()


def _layer(module: str) -> str:
    """kanlab.core.network -> 'core'; kanlab.model -> 'model'; kanlab -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _where(module: str, target: str) -> str:
    return f"{MODULES[module][0].relative_to(SRC.parent)}:{GRAPH[module][target]} imports {target}"


def _imports_of(layer: str):
    for module, edges in GRAPH.items():
        if _layer(module) == layer:
            for target in edges:
                yield module, target


def test_graph_is_not_empty_and_resolves_to_real_modules():
    assert len(MODULES) > 40 and "kanlab.core.network" in MODULES and "kanlab.kernels" in MODULES
    assert "kanlab.core.layer" in GRAPH["kanlab.core.network"]  # a relative import resolved
    unknown = [f"{m} -> {t}" for m, edges in GRAPH.items() for t in edges if t not in MODULES]
    assert unknown == [], f"imports of kanlab modules that do not exist: {unknown}"


def test_every_package_has_a_rank():
    layers = {_layer(m) for m in MODULES}
    assert layers <= set(RANKS), f"add {sorted(layers - set(RANKS))} to RANKS"


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    cycles = _cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_detector_finds_a_cycle():
    saved = dict(GRAPH)
    try:
        GRAPH["kanlab.validate"] = {"kanlab.core.network": 1}
        assert any("kanlab.validate" in c for c in _cycles())
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


@pytest.mark.parametrize("layer", ["core", "kernels"])
def test_core_and_kernels_know_nothing_of_the_layers_above(layer):
    above = {"training", "interpret", "symbolic", "discovery"}
    bad = [_where(m, t) for m, t in _imports_of(layer) if _layer(t) in above]
    assert not bad, "\n" + "\n".join(bad)


def test_kernels_import_only_kernels_and_validate():
    bad = [_where(m, t) for m, t in _imports_of("kernels") if _layer(t) not in {"kernels", "validate"}]
    assert not bad, "\n" + "\n".join(bad)


def test_training_knows_nothing_of_symbolic_maths():
    bad = [_where(m, t) for m, t in _imports_of("training")
           if _layer(t) in {"symbolic", "interpret", "discovery"}]
    assert not bad, "\n" + "\n".join(bad)


def test_imports_point_down_the_ranks():
    bad = []
    for module, edges in GRAPH.items():
        here = _layer(module)
        for target in edges:
            there = _layer(target)
            if there != here and RANKS[there] >= RANKS[here]:
                bad.append(f"{_where(module, target)} ({here}={RANKS[here]} -> {there}={RANKS[there]})")
    assert not bad, "\n" + "\n".join(bad)


def test_only_the_facade_and_its_clients_import_discovery():
    allowed = {"discovery", "model", "__init__", "experiments", "cli"}
    bad = [_where(m, t) for m, edges in GRAPH.items() for t in edges
           if _layer(t) == "discovery" and _layer(m) not in allowed]
    assert not bad, "\n" + "\n".join(bad)


def test_modules_below_the_facade_never_import_it():
    allowed = {"__init__", "experiments", "cli"}
    bad = [_where(m, t) for m, edges in GRAPH.items() for t in edges
           if t == "kanlab.model" and _layer(m) not in allowed]
    assert not bad, "\n" + "\n".join(bad)


def _function_lengths() -> list[tuple[int, str]]:
    rows = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                rows.append((node.end_lineno - start + 1, f"{path.relative_to(SRC.parent)}:{node.lineno} {node.name}"))
    return sorted(rows, reverse=True)


def test_no_function_longer_than_80_lines():
    rows = _function_lengths()
    assert len(rows) > 100
    longest = "\n".join(f"  {n:4d} lines  {where}" for n, where in rows[:5])
    too_long = [where for n, where in rows if n > MAX_FUNCTION_LINES]
    assert too_long == [], f"functions over {MAX_FUNCTION_LINES} lines; the five longest:\n{longest}"
