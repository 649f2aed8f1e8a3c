"""One archived message as its original ``.eml`` bytes: what "download .eml" and ``export --id`` return.

The bytes are those received, never re-serialised, so signatures (DKIM, S/MIME) still verify and
the SHA-256 in the archive matches the file.
"""

from __future__ import annotations

from server.export.names import eml_filename
from server.model import Message
from server.store.protocol import Store, StoreError


class MessageNotFound(LookupError):
    """No archived message has this id."""


def load_eml(store: Store, message_id: str) -> tuple[Message, bytes]:
    """The message and its raw bytes; a message whose bytes are gone is a store fault, not a 404."""
    message = store.get_message(message_id)
    if message is None:
        raise MessageNotFound(f"no archived message with id {message_id!r}")
    return message, raw_bytes(store, message)


def raw_bytes(store: Store, message: Message) -> bytes:
    raw = store.get_raw(message.sha256)
    if raw is None:
        raise StoreError(f"raw bytes of message {message.id} (sha256 {message.sha256}) are missing from the store")
    return raw


def eml_download_name(message: Message) -> str:
    return eml_filename(message.date, message.subject)
