"""api/ declares what its routes need; only the composition root builds it (issue 10)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

API = Path(__file__).parents[2] / "api"
# what routes are given, built once by the composition root (parley/assembly.py)
BUILT_BY_THE_ROOT = ("Queries", "Passwords", "Hashing", "Operations", "Store", "Cache",
                     "Limiter")


def calls_in_api() -> Iterator[tuple[str, str]]:
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = (node.func.id if isinstance(node.func, ast.Name)
                        else node.func.attr if isinstance(node.func, ast.Attribute) else "")
                yield f"{path.relative_to(API.parent)}:{node.lineno}", name


def test_no_route_module_builds_a_query_object_an_adapter_or_the_operations() -> None:
    built = [(where, name) for where, name in calls_in_api()
             if name.endswith(BUILT_BY_THE_ROOT) or name == "build_operations"]
    assert built == []


def test_no_route_module_checks_that_the_composition_root_built_something() -> None:
    checks = []
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assert) and "parley." in ast.unparse(node.test):
                checks.append(f"{path.relative_to(API.parent)}:{node.lineno}")
    assert checks == []


def test_no_route_module_imports_an_adapter() -> None:
    """Routes are typed from ports (the hashing pool is identity's HashingPool), so api/ needs
    nothing of adapters/, not even its types."""
    imports = []
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            imports += [f"{path.relative_to(API.parent)}:{node.lineno} {name}"
                        for name in names if name.split(".")[0] == "adapters"]
    assert imports == []
