"""The store's import boundaries: the backends never import each other, and the store never imports
the layers built on it (the audit log uses the store; the store must not use the audit log)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STORE = Path(__file__).resolve().parents[2] / "server" / "store"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any level (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def offending(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """``file: module`` for each import of a forbidden package by a file of ``package``."""
    bad = []
    for path in sorted((STORE.parent.parent / package.replace(".", "/")).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(STORE.parent.parent)}: {module}")
    return bad


@pytest.mark.parametrize(("package", "other"), [("server.store.sqlite", "server.store.elasticsearch"),
                                                ("server.store.elasticsearch", "server.store.sqlite")])  # fmt: skip
def test_a_backend_never_imports_the_other(package: str, other: str) -> None:
    assert offending(package, (other,)) == []


def test_the_store_does_not_import_the_layers_above_it() -> None:
    above = ("server.audit", "server.services", "server.web", "server.cli", "server.indexing", "server.export")
    assert offending("server.store", above) == []


def test_the_check_sees_a_function_level_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from server.store.sqlite import codec\n    import server.audit.chain\n")
    assert imported_modules(sample) >= {"server.store.sqlite", "server.store.sqlite.codec", "server.audit.chain"}
