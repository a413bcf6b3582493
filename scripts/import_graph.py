"""Print which runapi package imports which (static, from the source's import statements).

    python scripts/import_graph.py [SRC_DIR]          # edges "a -> b (n imports)", then cycles, as text
    python scripts/import_graph.py [SRC_DIR] --json   # the same, machine-readable
    python scripts/import_graph.py [SRC_DIR] --modules  # module by module (cycles inside a package show)

A "package" is the first level below runapi (runapi.api, runapi.tasks, ...; top-level modules such as
runapi.services count as their own node). Imports inside `if TYPE_CHECKING:` blocks are left out: they do not
run, so they cannot make a cycle at import time. Used for the closing note of issue 13 (the graph before and
after the services re-cut) and to check that nothing below the web layer imports runapi.api.
"""

from __future__ import annotations

import ast
import json
import sys
from collections import Counter
from pathlib import Path


def node_of(module: str, depth: int = 1) -> str | None:
    """The graph node a module belongs to: runapi's first-level package (depth 1), or the module (depth 0)."""
    parts = module.split(".")
    if parts[0] != "runapi" or len(parts) < 2:
        return None
    return ".".join(parts[1:]) if depth == 0 else parts[1]


def module_name(path: Path, src: Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run at import time or call time (everything except `if TYPE_CHECKING:` bodies)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(path: Path, module: str, is_package: bool, known: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for stmt in _runtime_imports(tree):
        if isinstance(stmt, ast.Import):
            out.extend(alias.name for alias in stmt.names)
            continue
        if stmt.level:  # relative: resolve against this module's package
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (stmt.level - 1)]
            target = ".".join(base + ([stmt.module] if stmt.module else []))
        else:
            target = stmt.module or ""
        submodules = [f"{target}.{alias.name}" for alias in stmt.names]  # `from . import limits`
        out.extend(submodules)
        if any(name not in known for name in submodules):  # some name is defined in the target itself
            out.append(target)
    return out


def edges(src: Path, depth: int = 1) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    known = {module_name(p, src) for p in (src / "runapi").rglob("*.py")}
    for path in sorted((src / "runapi").rglob("*.py")):
        module = module_name(path, src)
        here = node_of(module, depth)
        if here is None:
            continue
        seen: set[str] = set()
        for target in imported_modules(path, module, path.name == "__init__.py", known):
            if target not in known:  # `from .x import name`: the name is not a module, x is
                continue
            there = node_of(target, depth)
            if there is None or there == here or there in seen:
                continue
            seen.add(there)
            counts[(here, there)] += 1
    return counts


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
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
            strong(v)
    return found


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    src = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "src"
    counts = edges(src, 0 if "--modules" in argv else 1)
    graph: dict[str, set[str]] = {}
    for a, b in counts:
        graph.setdefault(a, set()).add(b)
    found = cycles(graph)
    if "--json" in argv:
        print(
            json.dumps(
                {
                    "edges": [{"from": a, "to": b, "modules": n} for (a, b), n in sorted(counts.items())],
                    "cycles": found,
                },
                indent=1,
            )
        )
        return
    for here in sorted(graph):
        print(f"{here} -> {', '.join(sorted(graph[here]))}")
    print(
        f"# {len(counts)} edges between {len(set(graph) | {b for _, b in counts})} packages; cycles: {found or 'none'}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
