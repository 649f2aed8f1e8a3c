"""Reading the audit log (Archive Log Query page, ``GET /api/v1/audit``, ``mailarchive audit``) and
verifying its hash chain.

Reading the log is itself audited (``audit_query``, ``audit_export``) before any entry is shown.
Verification is not: it checks the chain and then anchors the verified head (the anchor file is
not part of the chain), so running it from cron does not grow the log it checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.audit.operations import Op
from server.audit.query import count_matches, csv_lines, iter_matches, parse_audit_query, query_page
from server.audit.redaction import redacted_details
from server.audit.verify import Verdict, verify
from server.services.actor import AUDIT_READERS, Actor
from server.services.errors import Forbidden
from server.store.protocol import AuditQuery, AuditRecord
from server.users import Role

if TYPE_CHECKING:
    from server.services.context import Services

FILTERS = ("from", "to", "actor", "operation", "keyword")


@dataclass
class LogExport:
    query: AuditQuery
    total: int
    lines: Iterator[str]  # CSV, header first, streamed

    @property
    def filename(self) -> str:
        return f"archive-log-{self.query.start:%Y%m%d}-{self.query.end:%Y%m%d}.csv"


class AuditTrail:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def query(self, actor: Actor, params: Mapping[str, Any], *, timezone: str) -> tuple[AuditQuery, dict[str, Any]]:
        """One page ``{"total", "results", "next_cursor"}``, newest first."""
        with self.svc.audited(actor, Op.AUDIT_QUERY, asked=_used(params)) as entry:
            self._may_read(actor)
            query = parse_audit_query(params, tz=timezone)
            redact = _redact_for(actor)
            page = query_page(self.svc.store, query, redacted=redact)  # the keyword matches what is shown
            entry.done(**_used(params), total=page["total"])
            if redact:
                for result in page["results"]:
                    result["details"] = redacted_details(result["operation"], result.get("details") or {})
            return query, page

    def export(self, actor: Actor, params: Mapping[str, Any], *, timezone: str) -> LogExport:
        """Every matching entry as CSV lines (the CSV download, ``audit query --csv``)."""
        with self.svc.audited(actor, Op.AUDIT_EXPORT, asked=_used(params)) as entry:
            self._may_read(actor)
            query = parse_audit_query({k: params.get(k) for k in FILTERS}, tz=timezone)
            redact = _redact_for(actor)
            total = count_matches(self.svc.store, query, redacted=redact)
            entry.done(**_used(params), total=total)
            return LogExport(query, total, csv_lines(iter_matches(self.svc.store, query, redacted=redact), redact=redact))

    def verify_chain(self, *, head: tuple[int, str] | None = None,
                     visit: Callable[[AuditRecord], None] | None = None) -> Verdict:  # fmt: skip
        """Check every entry and the anchors (and ``head``, recorded outside the machine, if given);
        after a clean check anchor the head, so deleting what was just checked is detected from now
        on. ``StoreError`` when the log cannot be read."""
        log = self.svc.audit_log
        verdict = verify(self.svc.store, log.anchors, anchor_every=log.anchor_every, head=head, visit=visit)
        if verdict.ok and verdict.entries:
            log.anchor_now()
        return verdict

    def head(self) -> AuditRecord | None:
        """The newest entry (``audit head``: its seq and hash, to be recorded off the machine)."""
        return self.svc.store.audit_last()

    @staticmethod
    def _may_read(actor: Actor) -> None:
        if not actor.may(*AUDIT_READERS):
            raise Forbidden("only archive and email administrators read the archive log")


def _redact_for(actor: Actor) -> bool:
    """Email administrators see messages by id only (separation of duties)."""
    return not actor.may(Role.ARCHIVE_ADMIN)


def _used(params: Mapping[str, Any]) -> dict[str, str]:
    """The filters given (the entry records what was looked for)."""
    return {key: str(params.get(key)).strip() for key in (*FILTERS, "limit", "cursor")
            if str(params.get(key) or "").strip()}  # fmt: skip
