"""The download name of one archived message as its original ``.eml``.

The bytes themselves are read through ``server.services.archive_access`` (``raw`` / ``verified_raw``),
which checks them against the stored SHA-256 before they leave: they are those received, never
re-serialised, so signatures (DKIM, S/MIME) still verify and the SHA-256 in the archive matches.
"""

from __future__ import annotations

from server.export.names import eml_filename
from server.model import Message


def eml_download_name(message: Message) -> str:
    return eml_filename(message.date, message.subject)
