"""No import cycle among the project's packages, and no function-level import of
a project module (a lazy import hides a cycle instead of breaking it)."""

from __future__ import annotations

from pathlib import Path

from import_graph import build, packages

ROOT = Path(__file__).resolve().parents[2]


def test_the_packages_are_the_ones_we_expect_to_check() -> None:
    assert {"workers", "scheduler", "platform_spec", "infra", "autoscaling"} <= set(packages(ROOT))


def test_no_import_cycle_among_the_project_packages() -> None:
    graph = build(ROOT)
    assert graph.cycle() is None, f"import cycle: {' -> '.join(graph.cycle() or [])}"


def test_no_project_module_is_imported_inside_a_function() -> None:
    nested = [f"{module}:{line} imports {target}" for module, line, target in build(ROOT).nested]
    assert not nested, "function-level imports of project modules:\n" + "\n".join(nested)


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_sees_a_cycle_even_through_type_checking_and_relative_imports(
    tmp_path: Path,
) -> None:
    _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n"
            ),
            "pkg/c.py": "import pkg.a\n",
        },
    )
    cycle = build(tmp_path, ["pkg"]).cycle()
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.b", "pkg.c"}


def test_the_checker_sees_a_lazy_import_and_ignores_third_party_ones(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    import json\n    from pkg.b import g\n    return g\n",
            "pkg/b.py": "class C:\n    def m(self):\n        from pkg import a\n",
        },
    )
    graph = build(tmp_path, ["pkg"])
    assert graph.cycle() is None
    assert sorted(graph.nested) == [("pkg.a", 3, "pkg.b"), ("pkg.b", 3, "pkg.a")]
