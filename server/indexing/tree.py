"""Raw bytes -> the MIME tree that ``parse`` and ``mime`` both read, whatever the input.

Its own module because both the ingestion parse (``parse.py``) and the attachment download
(``mime.attachment_payload``, the message view) need the *same* tree: attachment numbers are the
walk order over it. Keeping it apart from ``parse.py`` is what lets ``mime.py`` use it without an
import cycle.

eml-parser's own parsing steps (multipart repair, header-parsing limits) are used without its
``parse_email``, whose report (URLs, received hops, every header structured) is not used here and
cost ~70 % of the CPU of an import (profile in docs/performance.md). The tree uses the stdlib's
compat32 policy: every field is read raw and decoded by ``charsets``, so the structured header
objects of the default policy would only cost time (a third of building the tree).
"""

from __future__ import annotations

import email
import email.feedparser
import email.message
import email.policy
import functools
import logging
import re

import eml_parser

from server.indexing import boundaries

MAX_MULTIPARTS = 300  # real mail has a handful of multipart containers; thousands are an attack
MAX_SCANNED_FOR_BOUNDARIES = 4 * 1024 * 1024
_BOUNDARY = re.compile(rb"(?i)boundary\s*=")
# stdlib defects that mean content was lost or guessed (other defects are cosmetic).
_SERIOUS_DEFECTS = {
    "StartBoundaryNotFoundDefect",
    "MultipartInvariantViolationDefect",
    "InvalidBase64PaddingDefect",
    "InvalidBase64CharactersDefect",
    "InvalidBase64LengthDefect",
    "MissingHeaderBodySeparatorDefect",
    "HeaderParsingLimitDefect",
}


@functools.cache
def eml_parser_instance() -> eml_parser.EmlParser:
    """The eml-parser configuration used for ingestion (the benchmark's bare parse loop uses it too)."""
    logging.getLogger("eml_parser").setLevel(logging.CRITICAL)  # it logs every oddity of real mail
    return eml_parser.EmlParser(include_raw_body=False, include_attachment_data=False, parse_attachments=False)


def message_tree(raw: bytes, errors: list[str]) -> email.message.Message | None:
    """The MIME tree of ``raw`` (None if no parser copes), problems appended to ``errors``."""
    containers = _containers_over_limit(raw)
    if containers > MAX_MULTIPARTS:  # hostile nesting: the stdlib needs seconds to give up on it
        errors.append(f"mime: {containers} multipart containers, more than {MAX_MULTIPARTS}; body not indexed")
        return None
    boundaries.install()
    parser = eml_parser_instance()
    try:
        msg = compat32_tree(raw)
        parser.repair_multipart(msg)
        parser.limit_header_parsing(msg)
        errors.extend(f"{type(d).__name__}: {d}" if str(d) else type(d).__name__
                      for d in msg.defects if type(d).__name__ in _SERIOUS_DEFECTS)
        return msg
    except Exception as exc:  # noqa: BLE001 - eml-parser raises anything on hostile input
        errors.append(f"eml-parser: {type(exc).__name__}: {str(exc)[:200]}")
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"stdlib parser: {type(exc).__name__}: {str(exc)[:200]}; headers scanned from raw bytes")
        return None


def compat32_tree(raw: bytes) -> email.message.Message:
    """``email.message_from_bytes(raw, policy=compat32)`` without its StringIO round trip: that
    parser copies the text into a StringIO (UCS-4) and reads it back 8,192 characters at a time;
    the feed parser takes the whole text at once (it splits and buffers lines itself, whatever the
    chunks: the tests compare both on the shared corpus)."""
    feed = email.feedparser.FeedParser(policy=email.policy.compat32)
    feed.feed(raw.decode("ascii", "surrogateescape"))  # what BytesParser.parsebytes decodes it with
    return feed.close()


def _containers_over_limit(raw: bytes) -> int:
    """How many ``boundary=`` parameters the first 4 MB hold if that is more than ``MAX_MULTIPARTS``,
    else 0. The case-insensitive regex scan costs ~0.1 ms for a typical 11 KB message;
    a count of the word in the lower-cased bytes (~0.02 ms) bounds it from above, so the scan runs
    only when that count is over the limit. Every match holds its own ``=``, so the count of ``=``
    (no copy: ~1 % of a parser process's instructions less) is a bound before that one; 16 % of the
    bench mail (quoted-printable text) has more than the limit and goes on to the word count."""
    head = raw[:MAX_SCANNED_FOR_BOUNDARIES]
    if head.count(b"=") <= MAX_MULTIPARTS or head.lower().count(b"boundary") <= MAX_MULTIPARTS:
        return 0
    return len(_BOUNDARY.findall(head))


def scan_headers(raw: bytes) -> list[tuple[str, str]]:
    """The header fields of ``raw`` read line by line: the last resort when no parser copes."""
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    fields: list[tuple[str, str]] = []
    for line in raw[:end].decode("utf-8", "surrogateescape").splitlines():
        if line[:1] in (" ", "\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
    return fields
