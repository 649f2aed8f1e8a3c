"""Text decoding that never fails: RFC 2047 encoded words, RFC 2231 values, raw 8-bit headers and bodies.

Real mail lies about its charset: "gb2312" text contains GBK/GB18030 characters, "big5" text contains
HKSCS characters, "us-ascii" text is UTF-8, and headers arrive as raw 8-bit bytes with no label at all.
Each declared charset is therefore mapped to its widest superset, and undeclared bytes are tried as
UTF-8, then GB18030, Big5 and finally cp1252 (which maps every byte). The stdlib replaces such text
with U+FFFD, which would make Chinese subjects unsearchable.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

# Declared charset -> the codec that decodes it and every superset in use.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "hz-gb-2312": "hz",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "iso-2022-jp": "iso2022_jp_2",
    "iso-2022-jp-1": "iso2022_jp_2",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-jp": "euc_jis_2004",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",  # mislabelled UTF-8 is far more common than real 8-bit ASCII
    "ascii": "utf-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_CJK_GUESSES = ("gb18030", "big5hkscs")
# Private use, compatibility and small/vertical forms: what a wrong CJK codec produces, not what people write.
_ODD = re.compile("[\ue000-\uf8ff\ufe10-\ufe6f\u2e80-\u2fdf\u3100-\u312f\u0080-\u00ff]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")
_ESC_JIS = "\x1b$"


def codec_for(charset: str | None) -> str | None:
    """The Python codec to use for a declared charset, or None if it is unknown."""
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None = None) -> tuple[str, bool]:
    """Decode ``data`` as declared, else by guessing. Returns (text, clean) — clean is False if bytes were replaced."""
    codec = codec_for(charset)
    if codec and codec.startswith("iso2022_jp"):
        try:
            return data.decode(codec), True
        except UnicodeDecodeError:
            return _jis_as_cp932(data)
    if codec:
        try:
            return data.decode(codec), True
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        pass
    guesses = []
    for name in _CJK_GUESSES:
        try:
            guesses.append(data.decode(name))
        except UnicodeDecodeError:
            continue
    if guesses:  # GB18030 accepts most Big5 byte strings too: the reading with fewer odd characters wins
        return min(guesses, key=lambda text: len(_ODD.findall(text))), True
    try:
        return data.decode("cp1252"), True
    except UnicodeDecodeError:
        return data.decode(codec or "utf-8", "replace"), False  # cp1252 leaves 5 bytes undefined


_JIS_SEGMENT = re.compile(rb"\x1b(\$[@B]|\([BJI])")


def _jis_as_cp932(data: bytes) -> tuple[str, bool]:
    """ISO-2022-JP with Microsoft/NEC extensions (CP50220, e.g. the numero sign), via Shift_JIS (cp932)."""
    out = bytearray()
    mode = b"(B"
    pos = 0
    for match in [*_JIS_SEGMENT.finditer(data), None]:
        chunk = data[pos : match.start() if match else len(data)]
        if mode in (b"$B", b"$@"):
            for j1, j2 in zip(chunk[::2], chunk[1::2], strict=False):
                s1 = (j1 - 0x21) // 2 + 0x81
                s1 += 0x40 if s1 > 0x9F else 0
                s2 = j2 + (0x1F + (j2 >= 0x60) if j1 % 2 else 0x7E)
                out += bytes((s1 & 0xFF, s2 & 0xFF))
        else:
            out += bytes(b | 0x80 for b in chunk) if mode == b"(I" else chunk
        if match:
            mode, pos = match.group(1), match.end()
    try:
        return out.decode("cp932"), True
    except UnicodeDecodeError:
        return out.decode("cp932", "replace"), False


def _decode_word(charset: str, encoding: str, text: str) -> tuple[str, bool]:
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*en?Q?...?=
    try:
        if encoding in "bB":
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = quopri.decodestring(text.replace("_", " ").encode("ascii", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return text, False
    return decode_bytes(data, charset)


def decode_header(value: str) -> tuple[str, bool]:
    """A header value as read from the raw message (surrogate-escaped 8-bit) -> readable text.

    Folding is removed, raw 8-bit bytes are decoded by guessing, then encoded words are decoded
    (whitespace between adjacent encoded words is dropped, as RFC 2047 says). Returns (text, clean).
    """
    value = value.replace("\r", "").replace("\n", "")
    clean = True
    if not value.isascii() or _ESC_JIS in value:
        data = value.encode("utf-8", "surrogateescape")
        value, clean = decode_bytes(data, "iso-2022-jp" if _ESC_JIS in value else None)
    if "=?" not in value:
        return value, clean

    def replace(match: re.Match[str]) -> str:
        nonlocal clean
        text, ok = _decode_word(*match.groups())
        clean = clean and ok
        return text

    return _ENCODED_WORD.sub(replace, _BETWEEN_WORDS.sub(r"\1\2", value)), clean


def decode_param(value: str | tuple[str | None, str | None, str]) -> tuple[str, bool]:
    """A MIME parameter (a file name): an RFC 2231 ``(charset, language, value)`` triple or a plain string.

    Plain strings may still carry RFC 2047 encoded words (common, though not allowed) or raw 8-bit text.
    """
    if isinstance(value, tuple):
        charset, _, text = value
        data = text.encode("latin-1", "surrogateescape") if isinstance(text, str) else bytes(text)
        return decode_bytes(data, charset)
    return decode_header(value)
