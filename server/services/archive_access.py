"""Reading archived mail: search (one page or every match), one message, its original bytes, an
attachment, and zips of selected or matching messages. Each call is audited once, before any
content leaves (the console, the API, ``mailarchive search/export``, the export job and pop3d).

Integrity on every read (issue 19): raw bytes are handed out only after their SHA-256 matches the
one recorded when they were archived. A mismatch, or bytes that are gone, refuses the read with
``IntegrityFailure``, writes an ``integrity_failure`` audit entry and counts it in the
``integrity_failures`` counter. ``verified_raw`` is that check for callers that read many messages
inside an operation they audit themselves (the export job, POP3 RETR).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta

from server.archiving import INTEGRITY_FAILURES, archive_timezone
from server.audit.operations import Op, Result
from server.logs import logger
from server.model import Message, format_time, now_utc
from server.ops.counters import timed
from server.query.criteria import (
    DEFAULT_SORT,
    MAX_LIMIT,
    Criteria,
    cursor_of,
    parse_criteria,
    parse_limit,
    parse_sort,
    reverse_sort,
)
from server.services.actor import ARCHIVE_READERS, Actor
from server.services.errors import Forbidden, IntegrityFailure, InvalidInput, NotFound, Unavailable
from server.store.protocol import AuditQuery, AuditRecord, SearchPage
from server.tuples import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from server.services.context import Services
    from server.services.read_results import AttachmentFile, Opened, ZipExport

    class Stored(Protocol):
        """What ``verified_raw`` needs of a message: a ``Message``, or pop3d's slim window entry (for type
        checkers only: a search loads no ``typing``)."""

        @property
        def id(self) -> str: ...

        @property
        def sha256(self) -> str: ...


log = logger(__name__)

VIEW_COVER_SECONDS = 600  # a page's body frame loaded this long after the page is part of that view
MAX_BULK = 5000  # messages in one "download selected" zip; larger sets are for Export All
INTEGRITY_COUNTER = INTEGRITY_FAILURES  # shown in the archive summary


class Matches(NamedTuple):
    """Every match of a search, streamed in search order (memory stays flat)."""

    criteria: Criteria
    total: int
    messages: Iterator[Message]


class ArchiveAccess:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.store = svc.store

    def timezone(self) -> str:
        """The archive's time zone: dates typed in forms, the API and the CLI are in it."""
        return archive_timezone(self.store, self.svc.config)

    # --- searching ----------------------------------------------------------------------------
    def search(self, actor: Actor, params: Mapping[str, Any], *, limit: Any = None, cursor: str | None = None,
               default_limit: int = 50, sort: str | None = None, before: str | None = None,
               ) -> tuple[Criteria, SearchPage]:  # fmt: skip
        """One page (cursor paging; newest first unless ``sort`` says otherwise, see ``SORTS``).

        ``before`` (a page's ``previous_cursor``) asks for the page before it: the same order walked
        the other way from that page's first row, turned round. ``previous_cursor`` is set on every
        page that has one before it, ``next_cursor`` on every page with one after it.
        """
        with self.svc.audited(actor, Op.SEARCH, asked=_given(params)) as entry:
            criteria = self._criteria(actor, params)
            order, size = parse_sort(sort), parse_limit(limit, default=default_limit)
            with timed(self.store, "search"):
                if before:
                    back = self.store.search(criteria, limit=size, cursor=before, sort=reverse_sort(order))
                    results = back.results[::-1]
                    page = SearchPage(total=back.total, results=results,
                                      next_cursor=cursor_of(order, results[-1]) if results else None,
                                      previous_cursor=cursor_of(order, results[0]) if back.next_cursor else None)  # fmt: skip
                else:
                    page = self.store.search(criteria, limit=size, cursor=cursor or None, sort=order)
                    if cursor and page.results:
                        page = page._replace(previous_cursor=cursor_of(order, page.results[0]))
            extra = {} if order == DEFAULT_SORT else {"sort": order}
            entry.done(**criteria.as_params(), **extra, hits=page.total, page=bool(cursor or before))
            return criteria, page

    def search_all(self, actor: Actor, params: Mapping[str, Any], *, sort: str | None = None) -> Matches:
        """Every match, for scripts (``search --all --jsonl``): one audit entry for the whole stream.

        The search order streams from ``Store.scan``; another ``sort`` walks the store's cursor
        pages of that order (memory stays flat either way)."""
        with self.svc.audited(actor, Op.SEARCH, details={"all": True}, asked=_given(params)) as entry:
            criteria = self._criteria(actor, params)
            order = parse_sort(sort)
            total = self.store.count(criteria)
            extra = {} if order == DEFAULT_SORT else {"sort": order}
            entry.done(**criteria.as_params(), **extra, hits=total)
            messages = self.store.scan(criteria) if order == DEFAULT_SORT else self._pages(criteria, order)
            return Matches(criteria, total, messages)

    def _pages(self, criteria: Criteria, order: str) -> Iterator[Message]:
        cursor = None
        while True:
            page = self.store.search(criteria, limit=MAX_LIMIT, cursor=cursor, sort=order)
            yield from page.results
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # --- one message --------------------------------------------------------------------------
    def view(self, actor: Actor, message_id: str, **details: Any) -> Opened:
        """The message for reading (console page, its HTML body, the API's metadata)."""
        with self.svc.audited(actor, Op.MESSAGE_VIEW, message_id, details=details) as entry:
            opened = self._open(actor, message_id, Op.MESSAGE_VIEW)
            written = entry.done(target=opened.message.id, subject=opened.message.subject[:200])
            return opened.recorded_by(written.seq)

    def view_part(self, actor: Actor, message_id: str, covered_by: str | None, **details: Any) -> Opened:
        """A part of a message page the reader just opened (its HTML body frame): not a new view.

        ``covered_by`` is the seq of the page's own ``message_view`` entry. When that entry is this
        actor's successful view of this message from the last ``VIEW_COVER_SECONDS``, the part is
        read without a second entry (one open, one entry: what an auditor counts). Anything else (no
        seq, a stale or foreign one, a bookmarked frame URL) is audited as a view of its own. Roles
        and the integrity check apply either way.
        """
        entry = self._covering_entry(actor, message_id, covered_by)
        if entry is None:
            return self.view(actor, message_id, **details)
        return self._open(actor, message_id, Op.MESSAGE_VIEW)

    def _covering_entry(self, actor: Actor, message_id: str, covered_by: str | None) -> AuditRecord | None:
        if not covered_by or not covered_by.isdigit() or not 0 < int(covered_by) < 2**63:
            return None
        now = now_utc()
        query = AuditQuery(start=now - timedelta(seconds=VIEW_COVER_SECONDS), end=now + timedelta(seconds=5),
                           actor=actor.name, operation=Op.MESSAGE_VIEW, keyword=message_id, limit=1,
                           after_seq=int(covered_by) + 1)  # fmt: skip
        _, records = self.store.audit_query(query)
        found = records[0] if records else None
        if found and found.seq == int(covered_by) and found.target == message_id and found.result == Result.SUCCESS:
            return found
        return None

    def raw(self, actor: Actor, message_id: str, **details: Any) -> Opened:
        """The original bytes, byte-identical (download .eml, ``export --id``)."""
        with self.svc.audited(actor, Op.EML_EXPORT, message_id, details=details) as entry:
            opened = self._open(actor, message_id, Op.EML_EXPORT)
            entry.done(target=opened.message.id, sha256=opened.message.sha256, size=len(opened.raw))
            return opened

    def attachment(self, actor: Actor, message_id: str, index: int, *, inline: bool = False) -> AttachmentFile:
        """Attachment ``index`` in the numbering of ``Message.attachments``."""
        # imported here: the MIME parser chain (eml-parser, dateutil, regex) is ~half of a search's start-up
        from server.mailview import attachment_at, is_inline_type

        with self.svc.audited(actor, Op.ATTACHMENT_DOWNLOAD, message_id, details={"index": index}) as entry:
            opened = self._open(actor, message_id, Op.ATTACHMENT_DOWNLOAD)
            found = attachment_at(opened.raw, index)
            if found is None:
                raise NotFound(f"message {message_id} has no attachment {index}")
            att, data = found
            inline = inline and is_inline_type(att.type)
            entry.done(target=opened.message.id, name=att.name, sha256=att.sha256, inline=inline)
            from server.services.read_results import AttachmentFile

            return AttachmentFile(opened.message, index, att, data, inline)

    # --- zips ---------------------------------------------------------------------------------
    def zip_selected(self, actor: Actor, ids: Iterable[Any] | None) -> ZipExport:
        """The selected messages (at most ``MAX_BULK``); an unknown id refuses before anything is sent."""
        with self.svc.audited(actor, Op.BULK_EXPORT) as entry:
            self._may_read(actor)
            wanted = parse_ids(ids)
            messages = self.store.get_messages(wanted)
            missing = sorted(set(wanted) - {m.id for m in messages})
            if missing:
                raise NotFound(f"no archived message with id {missing[0]!r}")
            entry.done(target=f"{len(messages)} messages", count=len(messages), ids=wanted[:100],
                       bytes=sum(m.size for m in messages))  # fmt: skip
            return self._zip(actor, messages, len(messages))

    def zip_matching(self, actor: Actor, params: Mapping[str, Any], **details: Any) -> ZipExport:
        """Every match of the criteria (``mailarchive export --from ... --to ...``), streamed."""
        with self.svc.audited(actor, Op.BULK_EXPORT, details=details, asked=_given(params)) as entry:
            criteria = self._criteria(actor, params)
            count = self.store.count(criteria)
            entry.done(target=f"{count} messages", **criteria.as_params(), count=count)
            return self._zip(actor, self.store.scan(criteria), count)

    # --- integrity ----------------------------------------------------------------------------
    def verified_raw(self, message: Stored, *, actor: Actor, purpose: str) -> bytes:
        """The message's original bytes if they match its SHA-256; else ``IntegrityFailure``.

        Not audited on success (the calling operation is); a failure is audited here, as
        ``integrity_failure`` naming ``purpose``, and counted, so every reader reports it alike.
        """
        checked = self._checked(message, self.store.get_raw(message.sha256), actor, purpose)
        if isinstance(checked, IntegrityFailure):
            raise checked
        return checked

    def verified_raws(self, messages: Sequence[Stored], *, actor: Actor, purpose: str) -> list[bytes | IntegrityFailure]:
        """``verified_raw`` for a batch in one store read (Export All, POP3 read-ahead: a read per
        message cost more than the reading). One result per message, in order: its bytes, or its
        ``IntegrityFailure`` (already audited and counted) for the caller to raise when it gets there.
        The caller bounds the batch's bytes: they are all in memory at once."""
        found = self.store.get_raws([m.sha256 for m in messages])
        return [self._checked(m, found.get(m.sha256), actor, purpose) for m in messages]

    def _checked(self, message: Stored, raw: bytes | None, actor: Actor, purpose: str) -> bytes | IntegrityFailure:
        if raw is None:
            actual, why = "missing", f"the original bytes of message {message.id} are missing from the store"
        else:
            import hashlib  # here: a search reads no original (OpenSSL's start-up, see audit.chain)

            actual = hashlib.sha256(raw).hexdigest()
            if actual == message.sha256:
                return raw
            why = f"the stored bytes of message {message.id} do not match its SHA-256 (altered or damaged)"
        error = IntegrityFailure(f"refused: {why}; expected sha256 {message.sha256}, found {actual}")
        self._report(actor, message, purpose, actual, error)
        return error

    def _report(self, actor: Actor, message: Stored, purpose: str, actual: str, error: IntegrityFailure) -> None:
        error.audited = True
        log.error("integrity failure (%s by %s): %s", purpose, actor.name, error.message)
        details = {"purpose": str(purpose), "expected_sha256": message.sha256, "actual_sha256": actual,
                   "error": error.message}  # fmt: skip
        try:
            self.store.incr_counter(INTEGRITY_COUNTER)
            self.svc.write_entry(actor, Op.INTEGRITY_FAILURE, message.id, details, Result.FAILURE)
        except Unavailable as exc:
            log.error("the integrity_failure entry for %s was not written: %s", message.id, exc.message)

    # --- helpers ------------------------------------------------------------------------------
    def _may_read(self, actor: Actor) -> None:
        if not actor.may(*ARCHIVE_READERS):
            raise Forbidden("only an archive administrator reads archived mail")

    def _criteria(self, actor: Actor, params: Mapping[str, Any]) -> Criteria:
        self._may_read(actor)
        return parse_criteria(params, tz=self.timezone())

    def _open(self, actor: Actor, message_id: str, purpose: str) -> Opened:
        self._may_read(actor)
        message = self.store.get_message(message_id)
        if message is None:
            raise NotFound(f"no archived message with id {message_id!r}")
        from server.services.read_results import Opened  # here: a search builds none (a dataclass is ~1 ms)

        return Opened(message, self.verified_raw(message, actor=actor, purpose=purpose))

    def _zip(self, actor: Actor, messages: Iterable[Message], count: int) -> ZipExport:
        # the zip writer is imported here: a search (the command line's most common run) never zips
        from server.export.batched import BatchedReads
        from server.export.zipstream import ZipStats, iter_zip
        from server.services.read_results import ZipExport

        stats = ZipStats()
        reads = BatchedReads(messages, lambda batch: self.verified_raws(batch, actor=actor, purpose=Op.BULK_EXPORT))
        chunks = iter_zip(reads, reads.raw_of, stats=stats, verified=True)
        return ZipExport(count, f"mail-export-{format_time(now_utc())[:10]}-{count}.zip", chunks, stats)


def parse_ids(values: Iterable[Any] | None) -> list[str]:
    """Distinct, non-empty ids in the given order; ``InvalidInput`` for none or too many."""
    if not isinstance(values, list | tuple):
        raise InvalidInput('send the ids as a list: a JSON body {"ids": ["<message id>", ...]}')
    ids = list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))
    if not ids:
        raise InvalidInput("select at least one message to download")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} messages can be downloaded at once; use Export All for more")
    return ids


def _given(params: Mapping[str, Any]) -> dict[str, str]:
    """What was asked, for the entry of a refused call (the success entry holds the parsed criteria)."""
    return {key: str(value)[:200] for key, value in params.items() if value not in (None, "", False)}
