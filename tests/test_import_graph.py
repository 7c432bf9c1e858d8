"""The core package imports without cycles and without plotting or progress packages.

The import graph counts every ``import`` in a module, at module level or
inside a function (a lazy import is still a dependency: the cycle between
``Gate`` and its combinators went through methods), except those under
``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import textwrap

import reward_design

CORE = pathlib.Path(reward_design.__file__).parent
# Being split by another change of the same redesign (issue 19).
AUDITS = {
    "reward_design.scoring_rules._audit",
    "reward_design.scoring_rules._choice_audit",
    "reward_design.scoring_rules._estimator_audit",
}
EXTRAS = ("matplotlib", "rich", "tqdm", "mnist1d")
SUBPACKAGES = (
    "reward_design",
    "reward_design.scoring_rules",
    "reward_design.calibration",
    "reward_design.gates",
    "reward_design.posthoc",
    "reward_design.halos",
    "reward_design.integrations",
    "reward_design.distributed",
)


def _modules(root: pathlib.Path) -> dict[str, tuple[pathlib.Path, bool]]:
    """``{dotted name: (path, is_package)}`` for every module under ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _targets(node: ast.AST, package: str, known: dict) -> set[str]:
    """The modules of ``known`` that one import statement loads."""
    out = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
        return out
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    for alias in node.names:
        if f"{source}.{alias.name}" in known:
            out.add(f"{source}.{alias.name}")
        elif source in known:
            out.add(source)
    return out


def import_graph(root: pathlib.Path) -> dict[str, set[str]]:
    """``{module: modules of the same package it imports}`` for the package at ``root``."""
    known = _modules(root)
    graph = {}
    for name, (path, is_package) in known.items():
        package = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        todo = [ast.parse(path.read_text(), filename=str(path))]
        while todo:
            for child in ast.iter_child_nodes(todo.pop()):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue
                if isinstance(child, ast.Import | ast.ImportFrom):
                    edges |= _targets(child, package, known)
                todo.append(child)
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
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
    return found


def test_graph_finds_a_cycle_through_a_lazy_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.a import A\n")
    (pkg / "sub" / "a.py").write_text("class A:\n    def f(self):\n        from .b import B\n")
    (pkg / "sub" / "b.py").write_text("from pkg.sub import a\nB = 1\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.a import A\n"
    )
    graph = import_graph(pkg)
    assert graph["pkg.sub.b"] == {"pkg.sub.a"}
    assert graph["pkg.c"] == set()
    assert cycles(graph) == [["pkg.sub.a", "pkg.sub.b"]]


def test_core_import_graph_is_acyclic():
    found = [c for c in cycles(import_graph(CORE)) if not set(c) <= AUDITS]
    assert found == [], f"import cycles in reward_design: {found}"


def test_audit_modules_are_acyclic():
    found = [c for c in cycles(import_graph(CORE)) if set(c) <= AUDITS]
    assert found == [], f"import cycles among the audits: {found}"


def test_core_imports_no_plotting_or_progress_package():
    """Each core sub-package, imported in turn in a fresh interpreter, loads none of them."""
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {SUBPACKAGES!r}:
            importlib.import_module(name)
            loaded = [m for m in {EXTRAS!r} if m in sys.modules]
            if loaded:
                print(f"{{name}} loads {{loaded}}")
                break
        else:
            print("clean")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean", out.stdout
