"""The module map of shared/DESIGN.md, checked with `ast`: imports point down, no circles.

Layers, bottom to top (a module imports only from its own layer group or below):

  0  arena.core        records, config, store, cache, registry, errors
  1  arena.models      backends (ScoringLM, ChatModel), prefix scorer, test models
  2  arena.ratings     pure functions on battle frames
  3  objective, judges each imports only arena.core|models|ratings (never each other)
  4  arena.service     what the UI and the CLI share
  5  ui                imports arena.service (and the layers below)
  6  everything else in arena: pipeline, stages, run_context, cli, report, runners, ...

Every import counts (module level or inside a function: a lazy import is still a
dependency) except those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("arena", "objective", "judges", "ui")

# (module prefix, rank, group): the first prefix that matches a module decides
LAYERS: tuple[tuple[str, int, str], ...] = (
    ("arena.core", 0, "arena.core"),
    ("arena.models", 1, "arena.models"),
    ("arena.ratings", 2, "arena.ratings"),
    ("objective", 3, "objective"),
    ("judges", 3, "judges"),
    ("arena.service", 4, "arena.service"),  # arena/service.py and arena/service_*.py
    ("ui", 5, "ui"),
    ("arena", 6, "arena"),
)


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of `mods` it imports (``from pkg import name`` resolves to
    ``pkg.name`` when that is a module, else to ``pkg``)."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [resolve(a.name) for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                targets = [resolve(f"{base}.{a.name}") or resolve(base) for a in node.names]
                targets = [t if t != mod else resolve(base) for t in targets]
            deps |= {t for t in targets if t and t != mod}
        graph[mod] = deps
    return graph


def layer(mod: str) -> tuple[int, str]:
    for prefix, rank, group in LAYERS:
        if (
            mod == prefix
            or mod.startswith(prefix + ".")
            or (prefix == "arena.service" and mod.startswith(prefix))
        ):
            return rank, group
    raise AssertionError(f"{mod} is in no layer of the module map")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for every import of a higher layer, or of a peer group of the same rank."""
    bad = []
    for mod, deps in sorted(graph.items()):
        rank, group = layer(mod)
        for dep in sorted(deps):
            r, g = layer(dep)
            if r > rank or (r == rank and g != group):
                bad.append(f"{mod} -> {dep}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


GRAPH = import_graph(modules(ROOT))


def test_every_module_is_on_the_map():
    assert len(GRAPH) > 50
    for mod in GRAPH:
        layer(mod)


def test_no_upward_imports():
    assert upward_imports(GRAPH) == []


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_checks_find_a_cycle_and_an_upward_import(tmp_path):
    """The checker itself, on a small tree that breaks both rules."""
    files = {
        "arena/__init__.py": "",
        "arena/core/__init__.py": "",
        "arena/core/a.py": "from arena.core import b\n",
        "arena/core/b.py": "def f():\n    from . import a  # lazy: still a circle\n",
        "arena/core/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from arena.pipeline import X\n",
        "arena/models/__init__.py": "",
        "arena/models/m.py": "import judges.run\n",
        "arena/pipeline.py": "from arena.core.a import f\n",
        "judges/__init__.py": "",
        "judges/run.py": "from objective.gen import g\n",
        "objective/__init__.py": "",
        "objective/gen.py": "from arena.core.a import f\n",
        "ui/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(modules(tmp_path))
    assert cycles(graph) == [["arena.core.a", "arena.core.b"]]
    assert upward_imports(graph) == ["arena.models.m -> judges.run", "judges.run -> objective.gen"]
    assert graph["arena.core.c"] == set()  # TYPE_CHECKING imports never run


if __name__ == "__main__":  # print the findings: python tests/test_layering.py
    print("\n".join(upward_imports(GRAPH)) or "no upward imports")
    print("\n".join(" <-> ".join(c) for c in cycles(GRAPH)) or "no cycles")
    sys.exit(bool(upward_imports(GRAPH) or cycles(GRAPH)))


def test_ratings_names_load_on_first_use():
    """`arena.ratings` loads scipy only when a name that needs it is used, and its
    `agreement` stays the function whichever import comes first."""
    import subprocess

    code = (
        "import sys, judges.pairwise, arena.ratings.agreement\n"
        "import arena.ratings as r\n"
        "assert 'scipy' not in sys.modules, 'scipy loaded at import'\n"
        "from arena.ratings import agreement, fit_bt\n"
        "assert callable(agreement) and agreement.__module__ == 'arena.ratings.agreement'\n"
        "assert 'scipy' in sys.modules and fit_bt.__module__ == 'arena.ratings.bradley_terry'\n"
        "assert sorted(r.__all__) == sorted(dir(r))\n"
        "try:\n    r.no_such_name\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit('no error')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
