"""The shape of the code a newcomer relies on: no import circles in the hub, layers that point one way, small modules.

Read from the source with :mod:`ast`, so an import hidden under ``if TYPE_CHECKING:`` or inside a function counts
as much as one at the top: each is a dependency a reader must follow, and a function-level import that closes a
circle only moves the failure from import time to call time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED = ("protocol", "common", "hub", "satellite")
MAX_LINES = 300
"""The size past which a module has stopped having one job (issue 19)."""

FORBIDDEN: dict[str, set[str]] = {
    "protocol": {"common", "hub", "satellite", "testbed", "tests"},
    "common": {"hub", "satellite", "testbed", "tests"},
    "hub": {"satellite", "testbed", "tests"},
    "satellite": {"hub", "testbed", "tests"},
}
"""Which top-level packages each shipped package may not import: protocol <- common <- hub | satellite."""


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (a package is named by its ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every dotted name ``path`` imports, anywhere in the file, with its line; relative imports made absolute."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                if alias.name != "*":
                    yield f"{base}.{alias.name}", node.lineno


def ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(package: str) -> dict[str, dict[str, int]]:
    """module -> {module it imports: line}, within ``package``.

    Importing ``hub.a.b`` also runs ``hub/a/__init__.py``, so the package counts as imported too, except
    by its own submodules (Python has started the package before any of them).
    """
    known = modules(package)
    graph: dict[str, dict[str, int]] = {name: {} for name in known}
    for name, path in known.items():
        for target, line in imported_names(name, path):
            if target not in known:
                continue  # ``from hub.x import Name``: the module was yielded as the base already
            own = set(ancestors(name))
            for hop in [*ancestors(target)[1:], target]:
                if hop != name and hop not in own and hop in known:
                    graph[name].setdefault(hop, line)
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One concrete circle per strongly connected component (Tarjan), each as a closed path of module names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [path_through(graph, sorted(c)) for c in components]


def path_through(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest way from the component's first module back to itself, staying inside the component."""
    members = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    return component


def describe(graph: dict[str, dict[str, int]], circle: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]})" for a, b in zip(circle, circle[1:], strict=False)]
    return " -> ".join([*steps, circle[-1]])


def tangle(graph: dict[str, dict[str, int]], circle: list[str]) -> str:
    """The circle, and every module caught in the same knot (all of them must change to undo it)."""
    members = reachable(graph, circle[0]) & {m for m in graph if circle[0] in reachable(graph, m)}
    return describe(graph, circle) + (f"\n    (the knot: {', '.join(sorted(members))})"
                                      if len(members) > len(circle) - 1 else "")


def reachable(graph: dict[str, dict[str, int]], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_import_graph_of_the_hub_has_no_circles() -> None:
    graph = import_graph("hub")
    assert len(graph) > 50, "the hub's modules were not found"
    found = circles(graph)
    assert not found, "import circles in hub/ (TYPE_CHECKING and function-level imports count):\n" + "\n".join(
        tangle(graph, c) for c in found)


def test_the_circle_finder_names_the_circle_and_the_lines() -> None:
    graph = {"hub.a": {"hub.b": 3}, "hub.b": {"hub.c": 7}, "hub.c": {"hub.a": 12}, "hub.d": {"hub.a": 1}}
    assert [describe(graph, c) for c in circles(graph)] == [
        "hub.a (line 3) -> hub.b (line 7) -> hub.c (line 12) -> hub.a"]


def test_layers_point_one_way_and_nothing_shipped_imports_the_tests_or_the_testbed() -> None:
    wrong: list[str] = []
    for package in SHIPPED:
        for name, path in modules(package).items():
            for target, line in imported_names(name, path):
                top = target.split(".")[0]
                if top in FORBIDDEN[package]:
                    wrong.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert not wrong, "imports against the layering protocol <- common <- hub | satellite:\n" + "\n".join(
        sorted(set(wrong)))


def test_no_module_in_the_hub_or_the_satellite_is_over_300_lines() -> None:
    sizes = {path.relative_to(REPO): len(path.read_text().splitlines())
             for package in ("hub", "satellite") for path in (REPO / package).rglob("*.py")}
    assert len(sizes) > 50
    too_long = sorted((lines, str(path)) for path, lines in sizes.items() if lines > MAX_LINES)
    assert not too_long, f"modules over {MAX_LINES} lines: " + ", ".join(
        f"{path} ({lines})" for lines, path in reversed(too_long))
