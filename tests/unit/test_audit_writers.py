"""Audit entries are written only in ``server/services`` and ``server/audit`` (issue 10).

An AST walk over every Python file of the product (server/, pop3d/, bench/) looks for the ways an
entry can be written: ``AuditLog`` itself, its ``record(...)``, the store's ``audit_append``, and
the services' own ``write_entry`` / ``audited``. A view or command that writes its own entry would
bypass the services' "validate, audit once, act" and their refusal rule (docs/audit.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("server", "pop3d", "bench")
ALLOWED = ("server/services/", "server/audit/")
WRITER_CALLS = {"audit_append", "write_entry", "audited"}


def audit_writes(source: str) -> list[str]:
    """What in ``source`` writes (or can write) an audit entry: ``line: reason`` strings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "server.audit.log":
            found += [f"{node.lineno}: imports AuditLog" for a in node.names if a.name == "AuditLog"]
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        if name in WRITER_CALLS:
            found.append(f"{node.lineno}: calls .{name}()")
        elif name == "record" and any(k.arg == "operation" for k in node.keywords):
            found.append(f"{node.lineno}: calls .record(operation=...)")
    return found


def test_the_checker_finds_each_way_of_writing_an_entry() -> None:
    snippet = (
        "from server.audit.log import AuditLog\n"
        "log.record(actor='x', role='', operation='search')\n"
        "store.audit_append(draft)\n"
        "svc.write_entry(actor, 'search', '', {}, 'success')\n"
        "with svc.audited(actor, 'search') as entry: pass\n"
        "manifest.record(row)\n"  # an unrelated .record() is fine
    )
    assert [line.split(":")[0] for line in audit_writes(snippet)] == ["1", "2", "3", "4", "5"]


def test_no_audit_entry_is_written_outside_the_services_and_the_audit_package() -> None:
    offenders = []
    files = [path for top in SOURCES for path in sorted((ROOT / top).rglob("*.py"))]
    assert len(files) > 50, "the source tree was not found"
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED):
            continue
        offenders += [f"{relative}:{hit}" for hit in audit_writes(path.read_text(encoding="utf-8"))]
    assert offenders == [], "audit entries must be written by server/services only:\n" + "\n".join(offenders)
