"""The ``parse_errors`` notes recorded at ingestion, in words a reader understands.

The notes are written for logs and tests ("date: unreadable 'Foo', received time used",
"StartBoundaryNotFoundDefect"); the message view lists each with a sentence saying what it means
for the reader (what may be missing or guessed) and keeps the recorded note as the detail, so
nothing is hidden. The sentences are English catalog keys, translated by the web layer.
"""

from __future__ import annotations

from dataclasses import dataclass

# Recorded note (its start) -> what it means. Order matters: the first matching prefix wins.
_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("parse: over the time budget", "Reading this message took too long; only its headers were read, so its body and attachments are not searchable."),
    ("date: unreadable", "The Date header could not be read; the time the archive received it is used."),
    ("date: out of range", "The Date header is out of range; the time the archive received it is used."),
    ("date: header", "The Date header is implausible; the time the archive received it is used."),
    ("headers:", "The header block is damaged; headers were read line by line from the raw bytes."),
    ("header ", "A header had characters that could not be decoded or whose charset was guessed."),
    ("address:", "An address header is malformed; addresses were picked out by pattern."),
    ("body: undecodable", "Part of the text could not be decoded in its charset; characters were replaced."),
    ("body:", "The body could not be read completely; some of its text may be missing from search."),
    ("mime: nesting too deep", "The MIME structure is nested too deeply; inner parts are not indexed."),
    ("mime: payload not decodable", "A part's transfer encoding is broken; it is kept as it was sent."),
    ("mime:", "The MIME structure is abnormal; the body is not indexed."),
    ("eml-parser:", "The first parser failed on this message; a simpler parser read it."),
    ("stdlib parser:", "No parser could read this message; only its headers were scanned."),
    ("attachment name", "An attachment name used undeclared 8-bit characters; its charset was guessed."),
    ("tnef:", "A winmail.dat (TNEF) attachment could not be unpacked; its inner file names are not indexed."),
    ("StartBoundaryNotFoundDefect", "A multipart boundary is missing; parts may have run together."),
    ("MultipartInvariantViolationDefect", "The message claims to be multipart but has no parts."),
    ("InvalidBase64", "A base64 part is damaged; its decoded content may be incomplete."),
    ("MissingHeaderBodySeparatorDefect", "There is no blank line after the headers; some body lines may have been read as headers."),
    ("HeaderParsingLimitDefect", "Too many or too long headers; some were not parsed."),
)  # fmt: skip
UNKNOWN = "The parser recorded a problem with this message."
MEANINGS = frozenset(meaning for _, meaning in _BY_PREFIX) | {UNKNOWN}  # every sentence a reader may see


@dataclass(frozen=True)
class Problem:
    meaning: str  # catalog key: what it means for the reader
    note: str  # the note as recorded at ingestion


def explain(notes: list[str]) -> list[Problem]:
    """One ``Problem`` per recorded note, in recorded order."""
    return [Problem(_meaning(note), note) for note in notes]


def _meaning(note: str) -> str:
    return next((meaning for prefix, meaning in _BY_PREFIX if note.startswith(prefix)), UNKNOWN)
