"""The dedupe key: which copies are the same message, and the stable, URL-safe ``Message.id`` derived from it.

A journal sends one copy of a message per recipient (or per relay hop); an import may read the same
message from several users' mailboxes. Those copies differ only in *per-copy* fields — added on the
way, by the receiving mailbox or by the mail store (``PER_COPY`` below, the one list
docs/ingestion.md shows) — and in line endings. The key hashes everything else:
all other header fields in order plus the body, with line endings normalised, together with the
Message-ID. So copies of one message get one id, while separate messages stay separate even if
Subject or Message-ID are equal (a resent, edited message keeps its Message-ID in some mailers but
changes its body).

Changing the list changes the id of messages carrying a newly listed field: a copy archived before
the change keeps its old id, so at most one more copy of such a message is stored.
"""

from __future__ import annotations

import base64
import hashlib
import re

# The per-copy fields, by why they differ between copies; a name ending in "*" is a prefix (vendors
# add new members to these families all the time).
PER_COPY = {
    "trace, added on the way": "received x-received return-path delivered-to x-original-to envelope-to "
    "x-rcpt-to x-delivered-to x-original-recipient original-recipient x-forwarded-to x-forwarded-for "
    "x-envelope-* arc-* dkim-signature x-google-dkim-signature domainkey-signature authentication-results "
    "received-spf x-google-smtp-source",
    "Gmail / Google Takeout: one user's labels, thread and message ids": "x-gm-* x-gmail-*",
    "Exchange / Microsoft 365: per-mailbox and transport stamps": "x-ms-* x-microsoft-* x-forefront-* "
    "x-originatororg x-eopattributedmessage x-eoptenantattributedmessage",
    "scanner verdicts: each hop and mailbox scans again": "x-spam* x-virus* x-amavis* x-mailscanner* "
    "x-barracuda-* x-proofpoint-* x-ironport-* x-mimecast-* x-rspamd-* x-antivirus*",
    "mailbox state kept by mail stores": "status x-status x-mozilla-status x-mozilla-status2 x-mozilla-keys "
    "x-uid x-keywords x-imap x-imapbase content-length lines",
    "only the sender's copy has it": "bcc",
}
_NAMES = [name for names in PER_COPY.values() for name in names.split()]
PER_COPY_FIELDS = frozenset(n for n in _NAMES if not n.endswith("*"))
PER_COPY_PREFIXES = tuple(n.rstrip("*") for n in _NAMES if n.endswith("*"))
_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


def header_end(raw: bytes) -> int:
    """Offset of the blank line ending the header block (len(raw) if there is none)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def is_per_copy_field(name: str) -> bool:
    name = name.lower()
    return name in PER_COPY_FIELDS or name.startswith(PER_COPY_PREFIXES)


def content_hash(raw: bytes) -> bytes:
    """SHA-256 over the header fields that are not per-copy (unfolded, in order) and the body, line endings normalised."""
    end = header_end(raw)
    digest = hashlib.sha256()
    keep = True
    for line in raw[:end].replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] not in (b" ", b"\t"):
            match = _FIELD_NAME.match(line)
            keep = not (match and is_per_copy_field(match.group(1).decode("ascii")))
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
