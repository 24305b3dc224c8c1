"""The import graph of the project's packages, read from source (nothing is imported).

Used by test_import_layering.py. An edge `a -> b` is a module-level import of
project module `b` in module `a` (imports under `if TYPE_CHECKING:` count: a
cycle that only the type checker sees is still a cycle of the design). An
import inside a function or class body is reported separately: the project
imports its own modules at module level only (see the developers' guide).
"""

from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImportGraph:
    edges: dict[str, set[str]] = field(default_factory=dict)
    # (module, line, imported module) of every function-level project import
    nested: list[tuple[str, int, str]] = field(default_factory=list)

    def cycle(self) -> list[str] | None:
        """One import cycle as a list of modules (first == last), or None."""
        try:
            tuple(graphlib.TopologicalSorter(self.edges).static_order())
        except graphlib.CycleError as err:
            return list(err.args[1])
        return None


def packages(root: Path) -> list[str]:
    """Top-level packages of the repository (folders with __init__.py), tests aside."""
    return sorted(
        p.parent.name
        for p in root.glob("*/__init__.py")
        if not p.parent.name.startswith(".") and p.parent.name != "tests"
    )


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported(module: str, is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    """Project modules that an import statement loads (the most specific known name)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        source = _resolve(module, is_package, node)
        names = [
            f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names
        ]
    out: list[str] = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            out.append(name)
    return list(dict.fromkeys(out))


def build(root: Path, roots: list[str] | None = None) -> ImportGraph:
    files = {
        module_name(root, path): path
        for top in (roots if roots is not None else packages(root))
        for path in sorted((root / top).rglob("*.py"))
    }
    known = set(files)
    graph = ImportGraph()
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        targets = graph.edges.setdefault(module, set())
        tree = ast.parse(path.read_text(), filename=str(path))
        _walk(tree, module, is_package, known, targets, graph, nested=False)
    return graph


def _walk(
    node: ast.AST,
    module: str,
    is_package: bool,
    known: set[str],
    targets: set[str],
    graph: ImportGraph,
    nested: bool,
) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            for target in _imported(module, is_package, child, known):
                if nested:
                    graph.nested.append((module, child.lineno, target))
                elif target != module:
                    targets.add(target)
        inner = nested or isinstance(
            child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
        )
        _walk(child, module, is_package, known, targets, graph, inner)
