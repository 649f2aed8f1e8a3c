"""Audit for operator commands run on the server itself (actor ``cli``), before they act.

The entry is written first: a command whose entry cannot be written does nothing and exits 1.
"""

from __future__ import annotations

import sys

from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op
from server.cli.audit import CLI_ACTOR, CLI_ROLE
from server.config import Config
from server.store.protocol import Store


class Refused(Exception):
    """The audit entry could not be written; the command must stop (exit code 1)."""


def record(store: Store, config: Config, operation: Op, target: str = "", details: dict | None = None) -> None:
    try:
        AuditLog.for_config(store, config).record(
            actor=CLI_ACTOR, role=CLI_ROLE, operation=operation, target=target, details=details
        )
    except AuditUnavailable as exc:
        print(f"mailarchive: refused, the audit log cannot be written: {exc}", file=sys.stderr)
        raise Refused from exc
