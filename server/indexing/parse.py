"""Raw bytes -> ``ParsedMail``: the fields the archive indexes. Never raises.

eml-parser does the MIME parsing (it repairs broken multipart structure and bounds header parsing
on hostile input); it is configured for speed: no raw bodies or attachment payloads in its result,
no attachment hashing. Fields are then read from its message tree with our own decoders
(``charsets``), because the stdlib turns mislabelled GB2312/Big5 text into U+FFFD. If eml-parser
fails, the stdlib parser (compat32, the most lenient) is tried, and if that fails too, the header
block is scanned by hand. Every problem goes to ``parse_errors``; the raw bytes are archived anyway.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from server.indexing import dates, dedupe
from server.indexing.budget import PARSE_BUDGET_SECONDS, WALL_FACTOR, BudgetExceeded, budget
from server.indexing.charsets import MessageCharsets, decode_header, guessed_note
from server.indexing.mime import collect_parts, iter_names
from server.indexing.tree import message_tree, scan_headers
from server.model import Attachment
from server.query.tokenize import MAX_INDEXED_CHARS

MAX_HEADER_VALUE = 2000  # header values kept for the rules; longer ones are cut
MAX_ADDRESS_FIELD = 100_000
_LOOSE_ADDR = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_COMPLEX = re.compile(r'["()\\:;]')
_SIMPLE = re.compile(r"^(?:([^<>@]*?)\s*<([^<>\s]+)>|([^<>\s]+))$")
_ADDR_OK = re.compile(r"^[^\s@<>,;:]+(@[^\s@<>,;]+)?$")


@dataclass
class ParsedMail:
    """What one message says about itself; picklable (it travels back from parser processes)."""

    id: str
    sha256: str
    size: int
    message_id: str = ""
    subject: str = ""
    sender: str = ""
    sender_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    date: datetime | None = None  # the Date header, any year; None: missing or unreadable (see dates.py)
    received_date: datetime | None = None  # time stamp of the topmost Received field, unchecked
    body_text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)  # every MIME type in the tree (DSN/MDN detection)
    report_type: str = ""  # multipart/report; report-type=...
    headers: dict[str, list[str]] = field(default_factory=dict)  # top-level fields by lower-case name, raw
    # text unfolded (encoded words kept as written: the rules only look at ASCII verdicts and markers)
    parse_errors: list[str] = field(default_factory=list)


def parse(raw: bytes, seconds: float = PARSE_BUDGET_SECONDS) -> ParsedMail:
    """Parse one message. The result always carries the sha256, size and dedupe id of ``raw``.

    Past ``seconds`` of CPU time (``server.indexing.budget``; or ``WALL_FACTOR`` times that in wall-clock
    time) only the header block, scanned from the raw bytes, is read, and the body and attachments are
    not indexed; the note says so.
    """
    try:
        with budget(seconds):
            return _parse(raw)
    except BudgetExceeded as exc:
        spent = f"{seconds * WALL_FACTOR:g} s of wall-clock time, blocked" if exc.wall else f"{seconds:g} s of CPU"
    mail = ParsedMail(id="", sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), parse_errors=[
        f"parse: over the time budget ({spent}); headers scanned from the raw bytes, body and attachments not indexed"])
    try:
        with budget(seconds):
            _fill_headers(mail, scan_headers(raw), MessageCharsets(raw))
    except (BudgetExceeded, Exception) as exc:  # noqa: BLE001 - the raw bytes are archived whatever happens here
        mail.parse_errors.append(f"headers: {type(exc).__name__}; not indexed")
    mail.id = dedupe.message_key(raw, mail.message_id)
    return mail


def _parse(raw: bytes) -> ParsedMail:
    errors: list[str] = []
    msg = message_tree(raw, errors)
    mail = ParsedMail(id="", sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), parse_errors=errors)
    charsets = MessageCharsets(raw)
    try:
        _fill_headers(mail, list(msg.raw_items()) if msg is not None else scan_headers(raw), charsets)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the message
        errors.append(f"headers: {type(exc).__name__}: {str(exc)[:200]}; scanned from raw bytes")
        _fill_headers(mail, scan_headers(raw), charsets)
    if msg is not None:
        try:
            _fill_body(mail, msg, charsets)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"body: {type(exc).__name__}: {str(exc)[:200]}")
    mail.id = dedupe.message_key(raw, mail.message_id)
    return mail


def _fill_headers(mail: ParsedMail, items: list[tuple[str, str]], charsets: MessageCharsets) -> None:
    raw: dict[str, list[str]] = {}
    for name, value in items:
        raw.setdefault(name.strip().lower(), []).append(str(value))
    for name, values in raw.items():  # the rules read these; only ASCII matters to them
        mail.headers[name] = [_plain(v)[:MAX_HEADER_VALUE] for v in values[:50]]
    if "subject" in raw:
        mail.subject = _text(mail, "subject", raw["subject"][0], charsets)
    mail.message_id = mail.headers.get("message-id", [""])[0].strip()
    senders = _addresses(mail, raw.get("from", []), charsets) or _addresses(mail, raw.get("sender", []), charsets)
    if senders:
        mail.sender_name, mail.sender = senders[0]
    for key in ("to", "cc", "bcc"):
        setattr(mail, key, _unique(addr for _, addr in _addresses(mail, raw.get(key, []), charsets)))
    if "date" in raw:
        mail.date = dates.header_date(raw["date"][0], mail.parse_errors)
    if "received" in mail.headers:
        mail.received_date = dates.received_header_date(mail.headers["received"][0])  # topmost = newest


def _plain(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\r", "").replace("\n", "").strip()


def _text(mail: ParsedMail, name: str, value: str, charsets: MessageCharsets) -> str:
    guesses = len(charsets.guessed)
    text, clean = decode_header(value, charsets)
    if not clean:
        mail.parse_errors.append(f"header {name}: undecodable characters replaced")
    if len(charsets.guessed) > guesses:
        mail.parse_errors.append(guessed_note(f"header {name}", charsets.guessed[guesses:]))
    return text.strip()


def _addresses(mail: ParsedMail, values: list[str], charsets: MessageCharsets) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs; the names decoded after splitting, so encoded commas stay inside."""
    found = []
    values = [v.replace("\r", "").replace("\n", "") for v in values]
    for value in values:
        if len(value) > MAX_ADDRESS_FIELD:  # kept bounded, but never silently: say how many were dropped
            dropped = len(_LOOSE_ADDR.findall(value, MAX_ADDRESS_FIELD))
            mail.parse_errors.append(f"address: a field of {len(value):,} characters was cut at {MAX_ADDRESS_FIELD:,}; "
                                     f"about {dropped:,} addresses after that were not kept")  # fmt: skip
    values = [v[:MAX_ADDRESS_FIELD] for v in values]
    for name, addr in _split_addresses(mail, values):
        addr = addr.strip().strip("<>").lower()
        if not addr.isascii():  # 8-bit local parts (SMTPUTF8 or broken mailers) arrive surrogate-escaped
            addr = decode_header(addr, charsets)[0]
        if addr and _ADDR_OK.match(addr):
            found.append((_text(mail, "address", name, charsets) if name else "", addr))
    return found


def _split_addresses(mail: ParsedMail, values: list[str]) -> list[tuple[str, str]]:
    """(name, address) pairs: a fast path for plain lists, the stdlib parser for quotes, comments and groups."""
    if not any(_COMPLEX.search(v) for v in values):
        pairs = [_SIMPLE.match(item.strip()) for v in values for item in v.split(",") if item.strip()]
        if all(pairs):
            return [(m.group(1) or "", m.group(2) or m.group(3)) for m in pairs if m]
    try:
        return email.utils.getaddresses(values)
    except (RecursionError, ValueError, IndexError) as exc:  # pathological nesting of groups and comments
        mail.parse_errors.append(f"address: {type(exc).__name__}, addresses taken by pattern")
        return [("", addr) for addr in _LOOSE_ADDR.findall(" ".join(values))]


def _fill_body(mail: ParsedMail, msg: email.message.Message, charsets: MessageCharsets) -> None:
    parts = collect_parts(msg, charsets)
    mail.body_text = parts.body_text()[:MAX_INDEXED_CHARS]
    mail.attachments = [att for att, _ in parts.attachments]
    mail.content_types = parts.content_types
    mail.report_type = (msg.get_param("report-type", "") or "") if msg.get_content_type() == "multipart/report" else ""
    mail.report_type = str(mail.report_type).lower()
    mail.parse_errors.extend(parts.errors)


def _unique(items) -> list[str]:  # noqa: ANN001
    return list(dict.fromkeys(items))


def attachment_names(mail: ParsedMail) -> list[str]:
    """Searchable names, each once; unnamed parts (name "") have none."""
    return list(iter_names(mail.attachments))
