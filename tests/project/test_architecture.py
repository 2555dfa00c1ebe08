"""The rules of the house (docs/architecture.md), checked on the source: the imports of every
module under src/archlag read with ``ast`` (at any depth, ``TYPE_CHECKING`` blocks included),
and the length of every module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SRC = ROOT / "src"
PACKAGE = SRC / "archlag"
MAX_MODULE_LINES = 400

# What each package may import of archlag besides itself and the version (``archlag``). A
# package not named here is the top of the house (the exporter, the command line).
ALLOWED: dict[str, set[str]] = {
    "archlag.core": set(),
    "archlag.secrets": set(),
    "archlag.logs": {"archlag.secrets"},
    "archlag.config": {"archlag.core", "archlag.secrets"},
    "archlag.store": {"archlag.core"},
    "archlag.metrics": {"archlag.core"},
    "archlag.registry": {"archlag.core", "archlag.secrets", "archlag.logs", "archlag.config"},
    "archlag.events": {"archlag.core", "archlag.config", "archlag.registry"},
    "archlag.polling": {
        "archlag.core", "archlag.logs", "archlag.config", "archlag.registry", "archlag.store",
    },
    "archlag.web": {"archlag.core", "archlag.logs", "archlag.config", "archlag.metrics"},
    "archlag.gate": {
        "archlag.core", "archlag.logs", "archlag.config", "archlag.registry", "archlag.secrets",
    },
    "archlag.discovery": {
        "archlag.core", "archlag.logs", "archlag.config", "archlag.secrets", "archlag.registry",
    },
}  # fmt: skip
TOP = {"archlag", "archlag.exporter", "archlag.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> Iterator[str]:
    """Every archlag module ``path`` imports (``from archlag.x import y``: ``archlag.x.y`` when
    that is a module, else ``archlag.x``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "archlag")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "archlag":
                continue
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                yield child if child in MODULES else node.module


GRAPH = {name: set(imports(path)) - {name} for name, path in MODULES.items()}


def unit(module: str) -> str:
    """The package (or top-level module) a module belongs to: ``archlag.core.names`` is in
    ``archlag.core``, ``archlag.logs`` is its own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_walk_sees_the_whole_package() -> None:
    assert len(MODULES) > 80
    assert "archlag.core.figures" in GRAPH["archlag.polling.poller"]
    assert "archlag.registry.manifests" in GRAPH["archlag.registry.client"]


def test_no_module_imports_itself_back() -> None:
    assert cycle(GRAPH) is None, " -> ".join(cycle(GRAPH) or [])


def test_no_package_imports_itself_back() -> None:
    units: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        units.setdefault(unit(module), set()).update(unit(t) for t in targets)
    for name, targets in units.items():
        targets.discard(name)
    assert cycle(units) is None, " -> ".join(cycle(units) or [])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_is_below_it(package: str) -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if unit(module) == package
        for target in targets
        if unit(target) not in {package, "archlag"} and unit(target) not in ALLOWED[package]
    )
    assert upward == []


def test_every_module_belongs_to_a_known_place() -> None:
    assert {unit(m) for m in MODULES} <= ALLOWED.keys() | TOP


def test_the_top_level_is_short() -> None:
    top = sorted(m for m in MODULES if m.count(".") == 1 and m != "archlag" and m not in ALLOWED)
    top += sorted(
        m for m in ALLOWED if m.count(".") == 1 and not (SRC / m.replace(".", "/")).is_dir()
    )
    assert len(top) <= 4, top


def test_module_names_say_one_thing_each() -> None:
    """No two modules share a file name (``cli``, ``model``, ``routes``...), so go-to-file and
    grep find one place; a package's ``__init__`` is the exception."""
    names: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        if path.name != "__init__.py":
            names.setdefault(path.stem, []).append(module)
    packages = {p.name for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"}
    repeated = {n: m for n, m in names.items() if len(m) > 1 or n in packages}
    assert repeated == {}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_passes_the_length_of_one_job(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines"
