"""The composition root has no import circle: the embedded profile's module builds the
production one on demand, and nothing the production profile imports leads back to it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]


def imported_modules(module: str) -> set[str]:
    """Every module `module` imports, at its top or inside a function."""
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_neither_the_production_profile_nor_the_shared_parts_import_the_embedded_root() -> None:
    for module in ("parley.production", "parley.assembly"):
        assert "parley.bootstrap" not in imported_modules(module), module
    assert "parley.production" not in imported_modules("parley.assembly")
