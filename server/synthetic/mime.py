"""Hand-rolled MIME pieces for synthetic mail.

Built with string formatting rather than ``email.message`` because the benchmark needs a million
messages quickly, and because real archives are full of shapes the stdlib would "fix": encoded
words inside quoted parameters, RFC 2231 continuations, legacy charsets such as GBK, Big5 and
ISO-2022-JP. Every shape emitted here is one that common mail clients produce.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

_Q_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/.")
_GBK_FIX = {0xA5: "\uffe5", 0x20AC: "EUR "}  # GBK lacks these; GBK clients type the full-width forms
_MAX_WORD_BYTES = 36  # raw bytes per encoded word: base64 of 36 bytes is 48 chars, word stays < 75


def q_encode(data: bytes) -> str:
    return "".join(chr(b) if b in _Q_SAFE else "_" if b == 32 else f"={b:02X}" for b in data)


def _chunks(text: str, charset: str) -> list[bytes]:
    """Split on character boundaries so each piece encodes on its own (needed for ISO-2022-JP,
    whose escape sequences must not be cut, and for multi-byte charsets)."""
    pieces, current = [], ""
    for char in text:
        if current and len((current + char).encode(charset)) > _MAX_WORD_BYTES:
            pieces.append(current.encode(charset))
            current = ""
        current += char
    if current:
        pieces.append(current.encode(charset))
    return pieces


def encoded_words(text: str, charset: str = "utf-8", mode: str = "B") -> str:
    """RFC 2047 encoded words (several, space-separated, when the text is long)."""
    if mode == "Q":
        return " ".join(f"=?{charset}?Q?{q_encode(c)}?=" for c in _chunks(text, charset))
    return " ".join(f"=?{charset}?B?{base64.b64encode(c).decode()}?=" for c in _chunks(text, charset))


def header_text(text: str, charset: str = "utf-8") -> str:
    """A header value: plain when ASCII, otherwise encoded words in ``charset``."""
    return text if text.isascii() else encoded_words(text, charset)


def address(name: str, addr: str, charset: str = "utf-8") -> str:
    if not name:
        return addr
    if name.isascii():
        return f'"{name}" <{addr}>' if "," in name else f"{name} <{addr}>"
    return f"{encoded_words(name, charset)} <{addr}>"


def address_list(people: list[tuple[str, str]], charset: str = "utf-8") -> str:
    """Folded after each address, as clients do, so long recipient lists stay valid."""
    return ",\n\t".join(address(name, addr, charset) for name, addr in people)


def rfc2231_param(key: str, text: str, charset: str) -> str:
    """``filename*=charset''%XX..`` with ``*0*``/``*1*`` continuations past 60 characters."""
    encoded = quote(text.encode(charset), safe="")
    if len(encoded) <= 60:
        return f"{key}*={charset}''{encoded}"
    parts, i, n = [], 0, 0
    while i < len(encoded):
        cut = min(i + 60, len(encoded))
        while cut < len(encoded) and "%" in encoded[cut - 2 : cut]:  # never split a %XX escape
            cut -= 1
        prefix = f"{charset}''" if n == 0 else ""
        parts.append(f"{key}*{n}*={prefix}{encoded[i:cut]}")
        i, n = cut, n + 1
    return ";\n\t".join(parts)


def filename_params(name: str, charset: str, style: str) -> tuple[str, str]:
    """(Content-Type name parameter, Content-Disposition filename parameter) in one of the
    styles real clients use: plain ASCII, RFC 2047 inside quotes (B or Q), or RFC 2231."""
    if style == "plain":
        return f'name="{name}"', f'filename="{name}"'
    if style == "2231":
        return rfc2231_param("name", name, charset), rfc2231_param("filename", name, charset)
    words = encoded_words(name, charset, "Q" if style == "2047Q" else "B")
    return f'name="{words}"', f'filename="{words}"'


def encode_body(text: str, charset: str, cte: str) -> str:
    """The body of a text part in the given transfer encoding (``7bit``, ``8bit``, ``base64``,
    ``quoted-printable``), lines ending in LF."""
    if cte in ("7bit", "8bit"):
        encoded = text
    else:
        data = (text.translate(_GBK_FIX) if charset == "gbk" else text).encode(charset)
        encoded = (base64.encodebytes if cte == "base64" else binascii.b2a_qp)(data).decode()
    return encoded if encoded.endswith("\n") else encoded + "\n"


def text_part(text: str, subtype: str, charset: str, cte: str) -> str:
    return (
        f'Content-Type: text/{subtype}; charset="{charset}"\n'
        f"Content-Transfer-Encoding: {cte}\n\n" + encode_body(text, charset, cte)
    )


def attachment_part(name: str, charset: str, style: str, ctype: str, payload: bytes) -> str:
    type_param, disp_param = filename_params(name, charset, style)
    return (
        f"Content-Type: {ctype};\n\t{type_param}\n"
        f"Content-Disposition: attachment;\n\t{disp_param}\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(payload).decode()
    )


def multipart(subtype: str, boundary: str, parts: list[str], extra: str = "") -> str:
    """A multipart entity (headers included) from already-rendered parts."""
    body = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return (
        f'Content-Type: multipart/{subtype};{extra}\n\tboundary="{boundary}"\n\n'
        f"This is a multi-part message in MIME format.\n\n{body}--{boundary}--\n"
    )
