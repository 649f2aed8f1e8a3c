"""Walk a parsed MIME tree once: body text, attachments (with nested messages and TNEF), content types.

The walk order defines attachment numbers: ``attachments[N]`` of an archived message is the N-th
attachment this walk yields, so ``attachment_payload(raw, N)`` (used to download one) agrees with the
stored metadata. Text is taken from text/plain parts, or from text/html with the tags stripped when
a message has no plain text. Attachments of attached messages (message/rfc822) are listed after
the attached message itself, so their names are searchable too; so are the files inside winmail.dat.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from server.indexing import budget
from server.indexing.charsets import MessageCharsets, codec_for, decode_bytes, decode_param, guessed_note
from server.indexing.tree import message_tree
from server.model import Attachment

MAX_DEPTH = 50
_NESTED = {"message/rfc822", "message/global"}
_TNEF = {"application/ms-tnef", "application/vnd.ms-tnef"}
# Linear whatever the input: an unclosed <style>, <script>, <title> or comment runs to the end (as in a
# browser), and a tag is ``<`` up to the next ``>`` with no ``<`` between (a lone ``<`` stays text).
# The earlier ``.*?</style>`` and ``<[^>]*>`` rescanned to the end from every unclosed opening:
# 70 KB of "<style>" took 7 s, and grew with the square of the size.
_DROP_BLOCKS = re.compile(r"(?is)<(script|style|title)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)")
_BREAKS = re.compile(r"(?i)<(?:br|/p|/div|/tr|/li|/h[1-6])\b[^<>]*>")
_TAGS = re.compile(r"<[^<>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_PLAIN_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_SERIALIZE = email.policy.compat32.clone(max_line_length=0)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: scripts, styles and comments dropped, block ends become line breaks."""
    text = _TAGS.sub(" ", _BREAKS.sub("\n", _DROP_BLOCKS.sub(" ", markup)))
    text = _SPACES.sub(" ", html.unescape(text))
    return _BLANK_LINES.sub("\n\n", text).strip()


@dataclass
class Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[tuple[Attachment, bytes]] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    charsets: MessageCharsets = field(default_factory=MessageCharsets)  # what the message declares, guesses

    def body_text(self) -> str:
        if self.plain:
            return "\n".join(self.plain).strip()
        return "\n".join(html_to_text(h) for h in self.html).strip()


def collect_parts(msg: email.message.Message, charsets: MessageCharsets | None = None) -> Parts:
    """``charsets``: the message's declared charsets, for names and text written without one."""
    parts = Parts(charsets=charsets or MessageCharsets())
    _walk(msg, parts, nested=False, depth=0)
    return parts


def attachment_payload(raw: bytes, index: int) -> tuple[Attachment, bytes] | None:
    """The ``index``-th attachment of a raw message (same numbering as ``Message.attachments``)."""
    msg = message_tree(raw, [])
    found = collect_parts(msg, MessageCharsets(raw)).attachments if msg is not None else []
    return found[index] if 0 <= index < len(found) else None


def _content_type(part: email.message.Message) -> str:
    """From the raw field when it is plain (the stdlib's structured parse is slow); else the stdlib's answer."""
    raw = _raw_header(part, "content-type")
    if raw:
        ctype = raw.split(";", 1)[0].strip().lower()
        if _PLAIN_TYPE.match(ctype):
            return ctype
    return part.get_content_type()


def _walk(part: email.message.Message, parts: Parts, *, nested: bool, depth: int) -> None:
    budget.check()  # a thread has no timer signal: the walk is where hostile structure costs time
    if depth > MAX_DEPTH:
        parts.errors.append("mime: nesting too deep, inner parts not indexed")
        return
    ctype = _content_type(part)
    parts.content_types.add(ctype)
    if ctype in _NESTED:
        _add_nested(part, parts, depth)
    elif part.is_multipart():
        if ctype.startswith("message/"):
            return  # delivery-status and the like: header blocks, neither body nor attachment
        for child in part.get_payload():
            _walk(child, parts, nested=nested, depth=depth + 1)
    elif _is_body(part, ctype):
        if not nested:
            (parts.plain if ctype == "text/plain" else parts.html).append(_text_of(part, parts))
    else:
        _add_attachment(part, parts, ctype)


def _is_body(part: email.message.Message, ctype: str) -> bool:
    if ctype not in ("text/plain", "text/html"):
        return False
    disposition = _raw_header(part, "content-disposition") or ""
    if disposition.split(";", 1)[0].strip().lower() == "attachment":
        return False
    return "name" not in disposition.lower() and "name" not in (_raw_header(part, "content-type") or "").lower() or not _filename(part, MessageCharsets())


def _text_of(part: email.message.Message, parts: Parts) -> str:
    data = _payload(part, parts)
    declared = part.get_content_charset()
    text, clean = decode_bytes(data, declared, parts.charsets)
    if declared and codec_for(declared) is None:
        parts.errors.append(f"body: unknown charset {declared[:60]!r}, text decoded as UTF-8 or guessed")
    if not clean:
        parts.errors.append(f"body: undecodable {part.get_content_charset() or 'undeclared'} text, characters replaced")
    return text


def _payload(part: email.message.Message, parts: Parts) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001 - broken transfer encodings
        parts.errors.append(f"mime: payload not decodable ({type(exc).__name__}), kept raw")
        data = None
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data


def _filename(part: email.message.Message, charsets: MessageCharsets, errors: list[str] | None = None) -> str:
    """File name from Content-Disposition or Content-Type (RFC 2231 or 2047 encoded, any charset,
    or raw 8-bit as SMTPUTF8 mail carries it)."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = _raw_header(part, header)
        if raw is None:
            continue
        # compat32 turns surrogate-escaped 8-bit text into U+FFFD when it is read back: hand it
        # the bytes as Latin-1 (one character per byte) and undo that below.
        eight_bit = not raw.isascii()
        probe = email.message.Message()  # compat32: parameters as written, we decode them
        probe[header] = raw.encode("utf-8", "surrogateescape").decode("latin-1") if eight_bit else raw
        value = probe.get_param(param, header=header)
        if value and eight_bit and isinstance(value, str):
            value = value.encode("latin-1").decode("utf-8", "surrogateescape")
        if value:
            guesses = len(charsets.guessed)
            text, _ = decode_param(value, charsets)
            if errors is not None and len(charsets.guessed) > guesses:
                errors.append(guessed_note(f"attachment name {text.strip()[:80]!r}", charsets.guessed[guesses:]))
            return text.strip().replace("\x00", "")
    return ""


def _raw_header(part: email.message.Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value).replace("\r", "").replace("\n", "")
    return None


def _add_attachment(part: email.message.Message, parts: Parts, ctype: str) -> None:
    data = _payload(part, parts)
    name = _filename(part, parts.charsets, parts.errors)
    parts.attachments.append((_describe(name, ctype, data), data))
    if ctype in _TNEF or name.lower() == "winmail.dat":
        _add_tnef(data, parts)


def _add_nested(part: email.message.Message, parts: Parts, depth: int) -> None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, email.message.Message):
        _add_attachment(part, parts, part.get_content_type())
        return
    try:
        data = inner.as_bytes(policy=_SERIALIZE)
    except Exception:  # noqa: BLE001 - text that cannot be encoded as declared
        data = inner.as_string(policy=_SERIALIZE).encode("utf-8", "surrogateescape")
    name = _filename(part, parts.charsets, parts.errors)
    if not name:
        subject, _ = decode_param(_raw_header(inner, "subject") or "", parts.charsets)
        name = f"{subject.strip()[:120]}.eml" if subject.strip() else ""
    parts.attachments.append((_describe(name, part.get_content_type(), data), data))
    _walk(inner, parts, nested=True, depth=depth + 1)


def _add_tnef(data: bytes, parts: Parts) -> None:
    """Files inside a winmail.dat (Outlook's TNEF wrapping), listed as attachments of their own."""
    try:
        from tnefparse import TNEF

        for item in TNEF(data).attachments:
            name = item.long_filename() or item.name or ""
            if isinstance(name, bytes):
                name = decode_bytes(name, None, parts.charsets)[0]
            payload = bytes(item.data or b"")
            parts.attachments.append((_describe(name.strip("\x00 "), "application/octet-stream", payload), payload))
    except Exception as exc:  # noqa: BLE001 - TNEF is best effort; the winmail.dat itself is kept
        parts.errors.append(f"tnef: {type(exc).__name__}, inner file names not indexed")


def _describe(name: str, ctype: str, data: bytes) -> Attachment:
    return Attachment(name=name, type=ctype, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def iter_names(attachments: list[Attachment]) -> Iterator[str]:
    seen = set()
    for att in attachments:
        if att.name and att.name not in seen:
            seen.add(att.name)
            yield att.name
