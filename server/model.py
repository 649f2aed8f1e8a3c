"""The archived message and the directory, as both store backends hold them (DESIGN.md §3).

Times are timezone-aware UTC ``datetime`` values truncated to milliseconds, so that both
backends (SQLite and Elasticsearch's ``date`` type) sort and compare them identically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
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


@dataclass
class Attachment:
    name: str
    type: str
    size: int
    sha256: str


@dataclass
class Message:
    """One archived message. ``id`` is derived from the dedupe key, so copies of one message share it."""

    id: str
    sha256: str
    date: datetime
    archived_at: datetime
    size: int
    message_id: str = ""
    subject: str = ""
    sender: str = ""
    sender_name: str = ""
    recipients: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    body_text: str = ""
    attachment_names: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    mailboxes: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    department_paths: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    retention_until: datetime | None = None
    legal_hold: bool = False  # derived: bool(legal_holds), kept for readers of the older documents
    parse_errors: list[str] = field(default_factory=list)
    archive_seq: int = 0  # arrival order, assigned by the store when first archived (0: not yet)
    received_at: datetime | None = None  # archive-side arrival time set by ingestion (not the sender's Date)
    legal_holds: list[str] = field(default_factory=list)  # ids of the active holds on this message

    def __post_init__(self) -> None:
        for key in TIME_FIELDS:
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, utc_ms(value))
        self.legal_hold = bool(self.legal_holds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready document: times as ISO strings."""
        doc = asdict(self)
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


@dataclass(frozen=True, slots=True)
class MessageHead:
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


@dataclass
class Account:
    """A mailbox of the company directory. Its status never affects archived mail."""

    address: str
    name: str = ""
    department: str = ""  # exact department path such as "/Sales/East"; "" = none
    status: str = AccountStatus.ACTIVE


def department_ancestors(path: str) -> list[str]:
    """``/Sales/East/Shanghai`` -> ``["/Sales", "/Sales/East", "/Sales/East/Shanghai"]``."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def normalize_department(path: str) -> str:
    """Canonical department path: leading slash, no empty segments, no trailing slash."""
    parts = [p.strip() for p in path.strip().split("/") if p.strip()]
    return "/" + "/".join(parts) if parts else ""
