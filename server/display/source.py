"""The raw source of a message as text, for the "view source" page: headers and body exactly as
archived, decoded for reading, never interpreted.

Each line is read as UTF-8 where it is UTF-8, else with the archive's guess for undeclared 8-bit
text (GB18030, then Windows-1252: what ingestion does), so legacy Chinese mail is legible. Control
characters other than tab and line ends are shown as their Unicode "control pictures" (NUL as
␀), so binary junk is visible as such instead of corrupting the page. Large messages are cut at
``MAX_SOURCE_BYTES`` with the cut stated; the .eml download has every byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.indexing.charsets import MessageCharsets, decode_bytes

MAX_SOURCE_BYTES = 1024 * 1024  # what the page shows; beyond that the browser struggles and nobody reads
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: an Outlook .msg, not MIME mail
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Source:
    text: str
    shown_bytes: int
    total_bytes: int

    @property
    def truncated(self) -> bool:
        return self.shown_bytes < self.total_bytes


def source_text(raw: bytes, limit: int = MAX_SOURCE_BYTES) -> Source:
    shown = raw[:limit]
    if len(raw) > limit:  # do not cut a UTF-8 sequence in half at the end
        shown = shown[: len(shown) - _partial_tail(shown)]
    charsets = MessageCharsets(raw)
    text = "".join(decode_bytes(line, None, charsets)[0] for line in shown.splitlines(keepends=True))
    return Source(_CONTROLS.sub(_picture, text.replace("\r\n", "\n")), len(shown), len(raw))


def _picture(found: re.Match[str]) -> str:
    """The Unicode control picture of a control character (U+2400 block; DEL is U+2421)."""
    code = ord(found[0])
    return chr(0x2421 if code == 0x7F else 0x2400 + code)


def is_outlook_msg(raw: bytes) -> bool:
    """An Outlook item (.msg, an OLE compound file) saved under a .eml name: no MIME to show."""
    return raw.startswith(OLE_SIGNATURE)


def _partial_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 sequence that the cut left unfinished."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII)
            need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
            return back if need > back else 0
    return 0
