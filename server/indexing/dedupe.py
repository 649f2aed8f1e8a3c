"""The dedupe key: which copies are the same message, and the stable, URL-safe ``Message.id`` derived from it.

A journal sends one copy of a message per recipient (or per relay hop); an import may read the same
message from several users' mailboxes. Those copies differ only in fields added on the way — trace
fields (Received, Delivered-To, X-Original-To, Return-Path, X-Envelope-*), signatures and verdicts
added by relays (DKIM, ARC, Authentication-Results, spam and virus scanner fields), mailbox state kept
by mail stores (Status, X-Mozilla-Status, X-UID...) and Bcc (only the sender's copy has it) — and
in line endings. The key hashes everything else: all other header fields in order plus the body,
with line endings normalised, together with the Message-ID. So copies of one message get one id,
while separate messages stay separate even if Subject or Message-ID are equal (a resent, edited
message keeps its Message-ID in some mailers but changes its body).
"""

from __future__ import annotations

import base64
import hashlib
import re

_TRACE_NAMES = """
    received x-received return-path delivered-to x-original-to envelope-to x-rcpt-to x-delivered-to
    x-original-recipient original-recipient dkim-signature x-google-dkim-signature
    domainkey-signature authentication-results received-spf x-spam-flag x-spam-status x-spam-level
    x-spam-score x-spam-checker-version x-spam-report x-virus-scanned x-virus-status status x-status
    x-mozilla-status x-mozilla-status2 x-mozilla-keys x-uid x-keywords x-imap x-imapbase content-length
    lines bcc x-gm-message-state x-google-smtp-source
"""
TRACE_FIELDS = frozenset(_TRACE_NAMES.split())
TRACE_PREFIXES = ("x-envelope-", "arc-", "x-ms-exchange-", "x-forefront-", "x-microsoft-antispam", "x-amavis-")
_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


def header_end(raw: bytes) -> int:
    """Offset of the blank line ending the header block (len(raw) if there is none)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def is_trace_field(name: str) -> bool:
    name = name.lower()
    return name in TRACE_FIELDS or name.startswith(TRACE_PREFIXES)


def content_hash(raw: bytes) -> bytes:
    """SHA-256 over the non-trace header fields (unfolded, in order) and the body, line endings normalised."""
    end = header_end(raw)
    digest = hashlib.sha256()
    keep = True
    for line in raw[:end].replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] not in (b" ", b"\t"):
            match = _FIELD_NAME.match(line)
            keep = not (match and is_trace_field(match.group(1).decode("ascii")))
        if keep:
            digest.update(line.rstrip() + b"\n")
    digest.update(b"\x00")
    digest.update(raw[end:].replace(b"\r\n", b"\n").strip(b"\r\n"))
    return digest.digest()


def normalize_message_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def message_key(raw: bytes, message_id: str) -> str:
    """The archived message's id: 32 lower-case base32 characters, URL-safe and stable forever."""
    digest = hashlib.sha256(normalize_message_id(message_id).encode("utf-8", "surrogateescape") + b"\x00" + content_hash(raw))
    return base64.b32encode(digest.digest()[:20]).decode("ascii").lower()
