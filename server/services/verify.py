"""Verifying the whole archive (``mailarchive verify``): the audit chain, the ingest and purge
ledgers, every document and every raw blob (``server.audit.archive_check``).

An operator action on the server, not audited: like ``audit verify`` it reads no content out and
must not grow the log it checks. The checkpoint of an interrupted run lives in
``DATA_DIR/verify/checkpoint.sqlite`` and is resumed by the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from server.audit.archive_check import ArchiveCheck, Report, open_checkpoint
from server.services.actor import Actor
from server.services.errors import Forbidden

if TYPE_CHECKING:
    from server.services.context import Services

CHECKPOINT = Path("verify") / "checkpoint.sqlite"


class ArchiveVerify:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    @property
    def checkpoint_path(self) -> Path:
        return self.svc.config.data_dir / CHECKPOINT

    def unfinished(self) -> bool:
        """Is there an interrupted run that ``run`` would resume?"""
        return self.checkpoint_path.exists()

    def run(self, actor: Actor, *, head: tuple[int, str] | None = None, restart: bool = False,
            progress: Callable[[int, int], None] | None = None) -> Report:  # fmt: skip
        """Check everything; the checkpoint is removed once the run got to the end (ok or not)."""
        if not actor.is_operator:
            raise Forbidden("the whole archive is verified by the operator on the server")
        checkpoint = open_checkpoint(self.checkpoint_path, restart=restart)
        try:
            check = ArchiveCheck(self.svc.store, checkpoint, progress=progress)
            chain = self.svc.audit_trail.verify_chain(head=head, visit=check.collect)
            report = check.run(chain)
        except BaseException:
            checkpoint.close()  # kept: the next run resumes from the last page committed
            raise
        checkpoint.remove()
        return report
