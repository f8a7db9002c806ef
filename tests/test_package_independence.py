"""The tap and the sandbox are two packages in one wheel that never import each other: the
sandbox stands for Gong, so it must not share the tap's idea of Gong (an oracle, not a
mirror), and the tap must run without it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(module: Path) -> set[str]:
    """The top-level packages a module imports, anywhere in it (TYPE_CHECKING too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(), filename=str(module))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def imports_of(package: str) -> dict[str, set[str]]:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, f"no modules found under {package}/"
    return {str(module.relative_to(ROOT)): imported_packages(module) for module in modules}


@pytest.mark.parametrize(
    ("package", "forbidden"), [("tap_gong", "gong_sandbox"), ("gong_sandbox", "tap_gong")]
)
def test_a_package_never_imports_the_other(package: str, forbidden: str) -> None:
    imports = imports_of(package)
    assert package in set().union(*imports.values())  # the scan sees the package's own imports
    assert [module for module, names in imports.items() if forbidden in names] == []
