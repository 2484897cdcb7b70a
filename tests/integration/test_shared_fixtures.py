"""The integration tests share fixtures through conftest.py and builders through
tests/builders.py, never by importing another test module (which copies its fixtures into the
importer, with `noqa` re-exports, and couples the two modules' names)."""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).parent


def imported_modules(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_integration_test_module_imports_another_test_module() -> None:
    borrowed = {
        source.name: sorted(m for m in imported_modules(source)
                            if m.rsplit(".", 1)[-1].startswith("test_"))
        for source in sorted(HERE.glob("test_*.py"))
    }
    assert {name: modules for name, modules in borrowed.items() if modules} == {}
