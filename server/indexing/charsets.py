"""Text decoding that never fails: RFC 2047 encoded words, RFC 2231 values, raw 8-bit headers and bodies.

Real mail lies about its charset: "gb2312" text contains GBK/GB18030 characters, "big5" text contains
HKSCS characters, "us-ascii" text is UTF-8, and headers arrive as raw 8-bit bytes with no label at all.
Each declared charset is therefore mapped to its widest superset. Raw 8-bit bytes that no label
covers (undeclared header text, a text part without ``charset``) are read in this order:

1. UTF-8 (RFC 6532 allows raw UTF-8 in headers: SMTPUTF8 mail is *not* a guess);
2. the charsets the same message declares elsewhere (``charset=`` parameters, RFC 2047 words), in
   the order they appear: the sender's mailer most likely used one for the headers too;
3. GB18030, if the reading is plausible Chinese (``_plausible_chinese``): Latin-1 bytes such as
   ``Gr\xf6\xdfe`` decode as GB18030 too, but into lone, mostly rare characters between Latin letters;
4. Latin-1 (as cp1252, its superset in practice), which maps every byte.

The stdlib replaces such text with U+FFFD, which would make Chinese subjects unsearchable.
``MessageCharsets`` carries step 2 for one message and records what had to be guessed (steps 2-4),
so the parser can say so in ``parse_errors``.
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
_DECLARED = re.compile(rb"(?i)charset\s*=\s*[\"']?([a-z0-9_.:+-]{1,40})|=\?([a-z0-9_.:+-]{1,40})(?:\*[^?]*)?\?[bq]\?")
MAX_SCANNED_FOR_CHARSETS = 4 * 1024 * 1024
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")
_ESC_JIS = "\x1b$"
# Text codecs of Python's that no mail charset means and that raise on ordinary bytes.
_NOT_CHARSETS = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "punycode", "idna", "mbcs", "oem"})


def codec_for(charset: str | None) -> str | None:
    """The Python codec to use for a declared charset, or None if it is unknown or not a charset.

    A charset is whatever the sender wrote: ``utf\\x00-8`` makes ``codecs.lookup`` raise
    ValueError, and names such as ``rot13``, ``base64``, ``zlib`` or ``undefined`` are codecs
    that do not decode bytes to text. All of these count as unknown (the text is then guessed, and
    the guess recorded), never as an error."""
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = _SUPERSETS.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


class MessageCharsets:
    """The charsets one message declares (read from its raw bytes on first need: most messages never
    need them) and the codecs that had to be guessed while decoding it."""

    def __init__(self, raw: bytes = b"") -> None:
        self._raw = raw
        self._declared: tuple[str, ...] | None = None
        self.guessed: list[str] = []

    def declared(self) -> tuple[str, ...]:
        if self._declared is None:
            found = (codec_for((a or b).decode("ascii")) for a, b in _DECLARED.findall(self._raw, 0, MAX_SCANNED_FOR_CHARSETS))
            self._declared = tuple(c for c in dict.fromkeys(found) if c and c != "utf-8")
            self._raw = b""
        return self._declared


def decode_bytes(data: bytes, charset: str | None = None, context: MessageCharsets | None = None) -> tuple[str, bool]:
    """Decode ``data`` as declared, else in the order of the module docstring. Returns (text, clean):
    clean is False if bytes were replaced. Guesses are recorded in ``context.guessed``."""
    codec = codec_for(charset)
    if codec and codec.startswith("iso2022_jp"):
        try:
            return data.decode(codec), True
        except UnicodeDecodeError:
            return _jis_as_cp932(data)
    if codec:
        try:
            return data.decode(codec), True
        except UnicodeError:  # UnicodeDecodeError, and what utf-7 or utf-16 raise on odd lengths
            pass
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        pass
    text, guess = _guess(data, context.declared() if context is not None else ())
    if context is not None:
        context.guessed.append(guess)
    return text, True


def _guess(data: bytes, declared: tuple[str, ...]) -> tuple[str, str]:
    """(text, codec) for bytes that are not UTF-8: declared elsewhere, plausible CJK, else Latin-1."""
    for codec in declared:
        try:
            return data.decode(codec), codec
        except UnicodeError:
            continue
    try:
        text = data.decode("gb18030")
        if _plausible_chinese(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # the 5 bytes cp1252 leaves undefined
        return data.decode("latin-1"), "latin-1"


def guessed_note(what: str, codecs: list[str]) -> str:
    """The ``parse_errors`` entry for text whose charset had to be guessed."""
    return f"{what}: undeclared 8-bit bytes, read as {', '.join(dict.fromkeys(codecs))} (guessed)"


def _plausible_chinese(text: str) -> bool:
    """Whether a GB18030 reading looks like Chinese rather than Latin-1 bytes read as GB18030.

    Latin-1 accents read as GB18030 become single, mostly rare characters between Latin letters
    (``Gr\xf6\xdfe`` -> ``Gr鲞e``); Chinese text comes in runs of common (GB2312) characters.
    """
    wide = [i for i, c in enumerate(text) if ord(c) > 127]
    if not wide:
        return True
    common = 0
    for i in wide:
        if _between_letters(text, i):
            return False
        try:
            text[i].encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            continue
    return common * 2 >= len(wide)


def _between_letters(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and _is_latin_letter(text[i - 1]) and _is_latin_letter(text[i + 1])


def _is_latin_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


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


def _decode_word(charset: str, encoding: str, text: str, context: MessageCharsets | None) -> tuple[str, bool]:
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*en?Q?...?=
    try:
        if encoding in "bB":
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = quopri.decodestring(text.replace("_", " ").encode("ascii", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return text, False
    return decode_bytes(data, charset, context)


def decode_header(value: str, context: MessageCharsets | None = None) -> tuple[str, bool]:
    """A header value as read from the raw message (surrogate-escaped 8-bit) -> readable text.

    Folding is removed, raw 8-bit bytes are decoded by guessing, then encoded words are decoded
    (whitespace between adjacent encoded words is dropped, as RFC 2047 says). Returns (text, clean).
    """
    value = value.replace("\r", "").replace("\n", "")
    clean = True
    if not value.isascii() or _ESC_JIS in value:
        data = value.encode("utf-8", "surrogateescape")
        value, clean = decode_bytes(data, "iso-2022-jp" if _ESC_JIS in value else None, context)
    if "=?" not in value:
        return value, clean

    def replace(match: re.Match[str]) -> str:
        nonlocal clean
        text, ok = _decode_word(*match.groups(), context)
        clean = clean and ok
        return text

    return _ENCODED_WORD.sub(replace, _BETWEEN_WORDS.sub(r"\1\2", value)), clean


def decode_param(value: str | tuple[str | None, str | None, str], context: MessageCharsets | None = None) -> tuple[str, bool]:
    """A MIME parameter (a file name): an RFC 2231 ``(charset, language, value)`` triple or a plain string.

    Plain strings may still carry RFC 2047 encoded words (common, though not allowed) or raw 8-bit text.
    """
    if isinstance(value, tuple):
        charset, _, text = value
        data = text.encode("latin-1", "surrogateescape") if isinstance(text, str) else bytes(text)
        return decode_bytes(data, charset, context)
    return decode_header(value, context)
