"""The archiving switch and the archive summary (console page, ``/api/v1``, ``mailarchive archiving``).

Switching is audited before it happens: if the entry cannot be written the switch stays as it was
(an unlogged change of the archiving service would be worse than a refused one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.archive_admin import ArchiveSummary, archive_summary
from server.archiving import set_enabled, switch_state
from server.audit.operations import Op
from server.services.actor import ARCHIVE_READERS, Actor
from server.services.errors import Forbidden, InvalidInput

if TYPE_CHECKING:
    from server.services.context import Services


class Archiving:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def state(self) -> dict:
        """``{"enabled", "last_enabled_at", "last_disabled_at", "changed_by"}`` (a read, not audited)."""
        return switch_state(self.svc.store)

    def summary(self) -> ArchiveSummary:
        """Status, mailboxes, messages, retention, administrators (counts only: not audited)."""
        return archive_summary(self.svc.store, self.svc.config)

    def switch(self, actor: Actor, enabled: bool) -> dict:
        """Enable or disable archiving of journal mail; returns the new switch state."""
        operation = Op.ARCHIVING_ENABLE if enabled is True else Op.ARCHIVING_DISABLE
        with self.svc.audited(actor, operation, "archiving", details={"enabled": enabled}) as entry:
            if not isinstance(enabled, bool):
                raise InvalidInput('"enabled" must be true or false')
            if not actor.may(*ARCHIVE_READERS):
                raise Forbidden("only an archive administrator switches archiving")
            entry.done(was_enabled=self.state()["enabled"])
            return set_enabled(self.svc.store, enabled, actor.name)
