"""The shape of ``vae_core`` a reader relies on: no import cycle between its modules, and no
module longer than ``MAX_LINES`` (issue 20).

Imports are read with ``ast``, not by importing: an ``import`` inside a function counts as much
as one at the top (it runs the first time the function does, and hiding a cycle there is how
cycles survive). Only ``if TYPE_CHECKING:`` blocks are left out: they never run.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vae_core"
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(tree: ast.AST, here: str, is_package: bool) -> set[str]:
    """Every dotted name an import statement in ``tree`` may load (module or module.attribute),
    relative imports resolved against ``here``; ``if TYPE_CHECKING:`` bodies skipped."""
    out: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``vae_core`` modules it imports. ``from vae_core.analysis import codes``
    is an edge to ``vae_core.analysis.codes``; the parent packages Python runs on the way are not
    edges (their ``__init__`` files are tested as modules of their own)."""
    mods = modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = set()
        for imported in imported_names(tree, name, path.name == "__init__.py"):
            # The longest known module the dotted name starts with: a.b.c.func -> a.b.c.
            parts = imported.split(".")
            for k in range(len(parts), 0, -1):
                candidate = ".".join(parts[:k])
                if candidate in mods:
                    if candidate != name:
                        targets.add(candidate)
                    break
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_cycle_finder_finds_cycles_through_function_level_imports(tmp_path):
    # The test of the test: a cycle hidden in a function body, and one through a relative import.
    top = ast.parse("import os\nfrom vae_core.b import f\n")
    inner = ast.parse("def g():\n    from vae_core import a\n")
    relative = ast.parse("from .a import x\nfrom typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from vae_core.b import y\n")
    assert {"vae_core.b", "vae_core.b.f"} <= imported_names(top, "vae_core.a", False)
    assert "vae_core.a" in imported_names(inner, "vae_core.b", False)
    names = imported_names(relative, "vae_core.c", False)
    assert "vae_core.a" in names and "vae_core.b.y" not in names
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_vae_core_has_no_import_cycle():
    graph = import_graph()
    assert "vae_core.analysis.codes" in graph and "vae_core.store.validate" in graph
    found = cycles(graph)
    assert not found, "import cycles among vae_core modules: " + "; ".join(
        " <-> ".join(c) for c in found)


def test_no_vae_core_module_is_longer_than_the_limit():
    lengths = {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
               for p in modules().values()}
    too_long = {f: n for f, n in lengths.items() if n > MAX_LINES}
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"


def test_the_readme_layout_names_every_vae_core_module():
    """The README's Layout tree is how a newcomer finds a file: each module is named there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Layout"):]
    tree = section[section.index("vae_core/"):section.index("checkpoints/")]
    words = set(re.findall(r"[\w.]+\.py\b", tree))
    missing = sorted(p.relative_to(ROOT).as_posix() for p in modules().values()
                     if p.name != "__init__.py" and p.name not in words)
    assert not missing, f"not in the README's Layout section: {missing}"
