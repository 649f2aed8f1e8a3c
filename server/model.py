"""The archived message and the directory, as both store backends hold them (DESIGN.md §3).

Times are timezone-aware UTC ``datetime`` values truncated to milliseconds, so that both
backends (SQLite and Elasticsearch's ``date`` type) sort and compare them identically.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from server.record import Record
from server.tuples import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any


class Flag(StrEnum):
    AUTO_REPLY = "auto_reply"
    AUTO_FORWARD = "auto_forward"
    SPAM = "spam"
    SYSTEM = "system"
    BOUNCE = "bounce"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"


def utc_ms(value: datetime) -> datetime:
    """Normalise to aware UTC with millisecond precision (the precision both backends keep)."""
    if value.tzinfo is UTC and not value.microsecond % 1000:
        return value  # already normal (every time read back from a store): ~10x cheaper than converting
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_time(value: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z``: the wire and storage form of every time.

    The year always has four digits (``strftime("%Y")`` writes year 800 as ``800``, which
    ``fromisoformat`` and Elasticsearch then refuse).
    """
    # isoformat pads the year itself and is a third of strftime's cost (Export All formats a time
    # per message); "+00:00" is cut off: utc_ms always gives UTC
    return utc_ms(value).isoformat(timespec="milliseconds")[:23] + "Z"


def parse_time(text: str) -> datetime:
    """``format_time``'s form; also the short years older versions wrote (``800-04-01T...``)."""
    if len(text) == 24 and text[4] == "-" and text[-1] == "Z":  # format_time's own form: the common case
        return utc_ms(datetime.fromisoformat(text))
    year, sep, rest = text.partition("-")
    if sep and year.isdigit() and len(year) < 4:
        text = f"{year.zfill(4)}-{rest}"
    return utc_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


def now_utc() -> datetime:
    return utc_ms(datetime.now(UTC))


# The datetime fields of Message: stored as ``format_time`` text, compared as UTC milliseconds.
TIME_FIELDS = ("date", "archived_at", "received_at", "retention_until")


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc_ms(value)


class Attachment(Record):
    def __init__(self, name: str, type: str, size: int, sha256: str) -> None:
        self.name, self.type, self.size, self.sha256 = name, type, size, sha256


class Message(Record):
    """One archived message. ``id`` is derived from the dedupe key, so copies of one message share it.

    A ``Record`` (not a dataclass: see ``server.record``); the list fields default to new empty lists."""

    def __init__(
        self,
        id: str,
        sha256: str,
        date: datetime,
        archived_at: datetime,
        size: int,
        message_id: str = "",
        subject: str = "",
        sender: str = "",
        sender_name: str = "",
        recipients: list[str] | None = None,
        to: list[str] | None = None,
        cc: list[str] | None = None,
        bcc: list[str] | None = None,
        body_text: str = "",
        attachment_names: list[str] | None = None,
        attachments: list[Attachment] | None = None,
        mailboxes: list[str] | None = None,
        departments: list[str] | None = None,
        department_paths: list[str] | None = None,
        flags: list[str] | None = None,
        retention_until: datetime | None = None,
        legal_hold: bool = False,  # derived: bool(legal_holds), kept for readers of the older documents
        parse_errors: list[str] | None = None,
        archive_seq: int = 0,  # arrival order, assigned by the store when first archived (0: not yet)
        received_at: datetime | None = None,  # archive-side arrival time set by ingestion (not the sender's Date)
        legal_holds: list[str] | None = None,  # ids of the active holds on this message
    ) -> None:
        # in field order (``to_dict`` and the stored documents keep it); times normalised (``utc_ms``)
        self.id, self.sha256, self.date, self.archived_at = id, sha256, _utc(date), _utc(archived_at)
        self.size, self.message_id, self.subject, self.sender = size, message_id, subject, sender
        self.sender_name = sender_name
        self.recipients = [] if recipients is None else recipients
        self.to = [] if to is None else to
        self.cc = [] if cc is None else cc
        self.bcc = [] if bcc is None else bcc
        self.body_text = body_text
        self.attachment_names = [] if attachment_names is None else attachment_names
        self.attachments = [] if attachments is None else attachments
        self.mailboxes = [] if mailboxes is None else mailboxes
        self.departments = [] if departments is None else departments
        self.department_paths = [] if department_paths is None else department_paths
        self.flags = [] if flags is None else flags
        self.retention_until = _utc(retention_until)
        self.legal_hold = bool(legal_holds)  # derived: the argument is ignored, as it always was
        self.parse_errors = [] if parse_errors is None else parse_errors
        self.archive_seq = archive_seq
        self.received_at = _utc(received_at)
        self.legal_holds = [] if legal_holds is None else legal_holds

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready document: times as ISO strings."""
        doc = {name: list(value) if isinstance(value, list) else value for name, value in self._asdict().items()}
        doc["attachments"] = [a._asdict() if isinstance(a, Attachment) else dict(a) for a in self.attachments]
        doc["legal_hold"] = bool(self.legal_holds)  # in sync even if legal_holds changed in place
        for key in TIME_FIELDS:
            if doc[key] is not None:
                doc[key] = format_time(doc[key])
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Message:
        data = dict(doc)
        for key in TIME_FIELDS:
            if isinstance(data.get(key), str):
                data[key] = parse_time(data[key])
        data["attachments"] = [a if isinstance(a, Attachment) else Attachment(**a) for a in data.get("attachments", [])]
        return cls(**data)

    def summary(self) -> dict[str, Any]:
        """The result-list shape of ``search --json`` and ``GET /api/v1/messages`` (DESIGN.md §6)."""
        return {
            "id": self.id,
            "message_id": self.message_id,
            "sha256": self.sha256,
            "subject": self.subject,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "date": format_time(self.date),
            "mailboxes": list(self.mailboxes),
            "attachment_names": list(self.attachment_names),
            "size": self.size,
            "flags": list(self.flags),
        }


class MessageHead(NamedTuple):
    """What a bulk export writes of a message beside its bytes (entry name, manifest row, the
    SHA-256 to check): ``Store.scan_heads`` reads only this, without building the whole ``Message``
    (body text, address lists, attachments), which was the largest part of an export's scan."""

    id: str
    sha256: str
    date: datetime
    size: int
    message_id: str = ""
    subject: str = ""
    sender: str = ""


HEAD_FIELDS = ("id", "sha256", "date", "size", "message_id", "subject", "sender")  # what head_of reads


def head_of(doc: dict[str, Any]) -> MessageHead:
    """A stored document's ``MessageHead`` (either backend's document form)."""
    return MessageHead(doc["id"], doc["sha256"], parse_time(doc["date"]), doc["size"], doc.get("message_id") or "",
                       doc.get("subject") or "", doc.get("sender") or "")  # fmt: skip


class ArrivalHead(NamedTuple):
    """What a reader in arrival order keeps of a message (a POP3 window's entry: the UIDL, the size
    LIST reports, the SHA-256 that RETR reads and checks): ``Store.scan_archived_heads`` reads only
    this, never the whole document, whose decoding was nearly all the cost of opening a window. A
    tuple, so a 10,000-message window is 10,000 cheap constructions."""

    archive_seq: int
    id: str
    sha256: str
    size: int  # octets as archived: the raw bytes' length


class Account(Record):
    """A mailbox of the company directory. Its status never affects archived mail."""

    def __init__(self, address: str, name: str = "", department: str = "", status: str = AccountStatus.ACTIVE) -> None:
        self.address, self.name, self.status = address, name, status
        self.department = department  # exact department path such as "/Sales/East"; "" = none


def department_ancestors(path: str) -> list[str]:
    """``/Sales/East/Shanghai`` -> ``["/Sales", "/Sales/East", "/Sales/East/Shanghai"]``."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def normalize_department(path: str) -> str:
    """Canonical department path: leading slash, no empty segments, no trailing slash."""
    parts = [p.strip() for p in path.strip().split("/") if p.strip()]
    return "/" + "/".join(parts) if parts else ""
