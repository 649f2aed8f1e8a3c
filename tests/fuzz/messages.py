"""Malformed mail for the fuzz runs: byte-level mutants of the shared corpus and generated hostile structures.

Deterministic for a seed, so a failure reproduces with the same ``(seed, index)``. Two families, in
turn: ``mutant:*`` takes a real message from ../shared/corpus/real and damages it the way broken
mailers, truncated downloads and attackers do (flipped and inserted bytes, cut, spliced, line ends
changed, NUL and 8-bit bytes); ``gen:*`` builds the structures that have hurt mail parsers before
(deep and wide MIME trees, missing or repeated boundaries, absurd charsets, broken encoded words,
megabyte header lines, hostile addresses and dates, nested HTML, TNEF and uuencode garbage). The
hypothesis strategy ``hostile_messages`` draws from the same building blocks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

from hypothesis import strategies as st

CRLF = b"\r\n"
CHARSETS = [b"utf-8", b"utf\x00-8", b"x-unknown", b"\xff\xfe", b"utf-7", b"gb2312", b"big5", b"iso-2022-jp",
            b"", b'"', b"utf-8'en'", b"us-ascii\r\n\tx", b"windows-1252", b"koi8-r", b"ebcdic-cp-us", b"a" * 300]
ENCODINGS = [b"base64", b"quoted-printable", b"8bit", b"7bit", b"binary", b"x-uuencode", b"bogus", b""]
TYPES = [b"text/plain", b"text/html", b"application/octet-stream", b"message/rfc822", b"application/ms-tnef",
         b"image/png", b"multipart/mixed", b"multipart/report; report-type=delivery-status", b"text/", b"/", b"x"]
NAMES = ["report.pdf", "../../etc/passwd", "a\x00b.txt", "\u202egnp.exe", "名前.docx", "=?utf-8?B?5ZCN?=",
         "x" * 2000, "CON", "file\r\nInjected: yes", "\ud800.txt", "e\u0301\u0301\u0301.txt", "🧨.zip"]
WORDS = [b"=?utf-8?B?!!!?=", b"=?utf-8?Q?=ZZ?=", b"=?x-unknown?B?AAAA?=", b"=?utf-8?B?" + b"QUFB" * 5000 + b"?=",
         b"=?=?=?", b"\xe4\xb8\xad\xe6\x96\x87", b"\xff\xfe\xfd", b"\x00", b"\x1b[31mred\x1b[0m", b"plain words",
         "\u202e\u200f\ufeff".encode(), b"=?gb2312?B?1tDOxA==?=", b"\r", b"(((((((((("]
ADDRESSES = [b"a@b.example", b"<>", b"@", b"a@", b"\"quoted\\\"\"@x.example", b"(" * 2000 + b"a@b.c",
             b"g: a@b.c, c@d.e;", b"\xff@\xfe", b"x" * 10000 + b"@y.example", b"a@b.c, " * 5000,
             b"=?utf-8?B?QQ==?= <a@b.c>", b"a@[127.0.0.1]", b"undisclosed-recipients:;", b"<a@b.c"]
DATES = [b"Mon, 1 Jan 2024 00:00:00 +0000", b"Thu, 01 Jan 1970 00:00:00 +9999", b"32 Foo 99999 99:99:99",
         b"0000-00-00", b"", b"\x00", b"Sat, 31 Dec 9999 23:59:60 -2359", b"1 Jan 1 00:00 +0000",
         b"Fri, 13 Feb 2009 23:31:30 GMT-infinity", b"9" * 400]


def corpus_messages(corpus: Path) -> list[bytes]:
    """The corpus's single messages (``.eml``), the seeds of the mutants; sorted so a seed reproduces."""
    return [p.read_bytes() for p in sorted(corpus.rglob("*.eml"))]


# --- mutants ---------------------------------------------------------------------------------------

def _flip(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, max(1, len(data) // 50))):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def _insert(rng: random.Random, raw: bytes) -> bytes:
    at = rng.randint(0, len(raw))
    junk = rng.choice([b"\x00", b"\r", b"\n", b"\r\n\r\n", b"\xff\xfe", b"\r\n.\r\n", b"\r\n..\r\n", b"\r\nFrom x\r\n",
                       b"--", b"=?", bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))])
    return raw[:at] + junk * rng.randint(1, 20) + raw[at:]


def _cut(rng: random.Random, raw: bytes) -> bytes:
    return raw[: rng.randint(0, len(raw))]


def _delete(rng: random.Random, raw: bytes) -> bytes:
    start = rng.randint(0, len(raw))
    return raw[:start] + raw[start + rng.randint(1, 500):]


def _line_ends(rng: random.Random, raw: bytes) -> bytes:
    lf = raw.replace(CRLF, b"\n")
    return rng.choice([lf, lf.replace(b"\n", CRLF), lf.replace(b"\n", b"\r"), lf.replace(b"\n", b"\n\r")])


def _repeat(rng: random.Random, raw: bytes) -> bytes:
    start = rng.randint(0, len(raw))
    piece = raw[start : start + rng.randint(1, 200)]
    return raw[:start] + piece * rng.randint(2, 200) + raw[start:]


def _splice(rng: random.Random, raw: bytes, other: bytes) -> bytes:
    return raw[: rng.randint(0, len(raw))] + other[rng.randint(0, len(other)):]


def _header_damage(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
    extra = rng.choice([b"Content-Type: multipart/mixed", b"Content-Type: text/plain; charset=\"utf\x00-8\"",
                        b"Content-Transfer-Encoding: base64", b"MIME-Version: 1.0 (((", b"From: " + rng.choice(ADDRESSES),
                        b"Subject: " + rng.choice(WORDS), b"Date: " + rng.choice(DATES), b"no colon here", b": empty name",
                        b" continuation without field", b"X-Long: " + b"a" * rng.randint(1000, 100_000)])
    return head + CRLF + extra + (sep or CRLF + CRLF) + body


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [_flip, _insert, _cut, _delete, _line_ends, _repeat,
                                                             _header_damage]


def mutant(rng: random.Random, seeds: list[bytes]) -> tuple[str, bytes]:
    raw = rng.choice(seeds)
    names = []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.1:
            raw, name = _splice(rng, raw, rng.choice(seeds)), "splice"
        else:
            op = rng.choice(MUTATIONS)
            raw, name = op(rng, raw), op.__name__.strip("_")
        names.append(name)
    return "mutant:" + "+".join(names), raw


# --- generated structures --------------------------------------------------------------------------

def _headers(rng: random.Random, **fields: bytes) -> bytes:
    base = {b"From": rng.choice(ADDRESSES[:3]), b"To": rng.choice(ADDRESSES), b"Subject": rng.choice(WORDS),
            b"Date": rng.choice(DATES), b"Message-ID": f"<fuzz-{rng.getrandbits(64):x}@fuzz.test>".encode()}
    base.update({k.replace("_", "-").encode(): v for k, v in fields.items()})
    return b"".join(k + b": " + v + CRLF for k, v in base.items())


def _leaf(rng: random.Random, scale: int = 1) -> bytes:
    ctype, enc = rng.choice(TYPES[:6]), rng.choice(ENCODINGS)
    name = rng.choice(NAMES).encode("utf-8", "surrogatepass")
    disp = rng.choice([b"", b"Content-Disposition: attachment; filename=\"" + name + b"\"\r\n",
                       b"Content-Disposition: attachment; filename*=utf-8''" + name + b"\r\n",
                       b"Content-Disposition: attachment; filename*0*=x'';filename*5=" + name + b"\r\n"])
    body = rng.choice([b"hello \xe4\xb8\xad world", b"!!!!not base64!!!", b"=ZZ=\r\n=", b"begin 644 x\r\nM" + b"\xff" * 60,
                       b"\x78\x9f\x3e\x22" + bytes(rng.randrange(256) for _ in range(200)),
                       b"<div>" * rng.randint(1, 5000 // scale) + b"x", b"A" * rng.randint(0, 20_000 // scale)])
    return (b"Content-Type: " + ctype + b"; charset=\"" + rng.choice(CHARSETS) + b"\"\r\nContent-Transfer-Encoding: "
            + enc + CRLF + disp + CRLF + body)


def _multipart(rng: random.Random, depth: int, width: int, scale: int = 1) -> bytes:
    boundary = rng.choice([f"b{depth}".encode(), b"", b"same", b"-- --", b"x" * 200])
    inner = 1 if depth > 3 else rng.randint(1, 3)  # deep trees stay narrow: the size must not explode
    parts = [(_multipart(rng, depth - 1, inner, scale) if depth > 1 and rng.random() < 0.7 else _leaf(rng, scale))
             for _ in range(width)]
    closing = rng.choice([b"--" + boundary + b"--" + CRLF, b"", b"--" + boundary + CRLF])
    return (b"Content-Type: multipart/" + rng.choice([b"mixed", b"alternative", b"related", b"digest"])
            + b"; boundary=\"" + boundary + b"\"\r\n\r\npreamble\r\n"
            + b"".join(b"--" + boundary + CRLF + p + CRLF for p in parts) + closing + b"epilogue")


def _deep_nesting(rng: random.Random) -> bytes:
    return _headers(rng, MIME_Version=b"1.0") + _multipart(rng, rng.randint(10, 60), 1)


def _wide_tree(rng: random.Random) -> bytes:
    return _headers(rng, MIME_Version=b"1.0") + _multipart(rng, 2, rng.randint(50, 300), scale=50)


def _rfc822_chain(rng: random.Random) -> bytes:
    inner = _headers(rng) + CRLF + b"innermost"
    for _ in range(rng.randint(5, 80)):
        inner = _headers(rng, Content_Type=b"message/rfc822") + CRLF + inner
    return inner


def _huge_headers(rng: random.Random) -> bytes:
    many = b"".join(b"X-H%d: %s\r\n" % (i, rng.choice(WORDS[:3] + WORDS[4:])) for i in range(rng.randint(1000, 10000)))
    folded = b"Subject: " + b"\r\n\tfold".join([b"w"] * rng.randint(1000, 30000)) + CRLF
    return rng.choice([many, folded, b"To: " + b"a@b.example, " * rng.randint(10_000, 40_000) + CRLF]) + _headers(rng) + CRLF + b"body"


def _no_structure(rng: random.Random) -> bytes:
    return rng.choice([b"", b" ", CRLF, CRLF * 3, b"\x00" * 1000, bytes(rng.randrange(256) for _ in range(4096)),
                       b"From: a@b.example", b"Subject: only headers\r\n", b"\r\n\r\nbody without headers",
                       b":" * 5000, b"\xef\xbb\xbfFrom: bom@x.example\r\n\r\nx", b"." + CRLF + b".." + CRLF])


def _hostile_fields(rng: random.Random) -> bytes:
    return (_headers(rng, From=rng.choice(ADDRESSES), To=rng.choice(ADDRESSES), Cc=rng.choice(ADDRESSES),
                     Subject=b"".join(rng.choice(WORDS) for _ in range(rng.randint(1, 50))), Date=rng.choice(DATES))
            + CRLF + b"body " + rng.choice(WORDS))


def _tnef_and_uu(rng: random.Random) -> bytes:
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(10, 5000)))
    tnef = b"\x78\x9f\x3e\x22" + junk
    import base64

    return (_headers(rng, MIME_Version=b"1.0", Content_Type=b'multipart/mixed; boundary="t"') + CRLF
            + b"--t\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(tnef) + b"\r\n--t\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
            + b"begin 644 f\r\n" + junk[:60] + b"\r\nend\r\n--t--\r\n")


GENERATORS: list[Callable[[random.Random], bytes]] = [_deep_nesting, _wide_tree, _rfc822_chain, _huge_headers,
                                                       _no_structure, _hostile_fields, _tnef_and_uu]


def generated(rng: random.Random) -> tuple[str, bytes]:
    make = rng.choice(GENERATORS)
    return "gen:" + make.__name__.strip("_"), make(rng)


def fuzz_messages(count: int, seed: int, seeds: list[bytes]) -> Iterator[tuple[int, str, bytes]]:
    """``count`` messages ``(index, kind, raw)``: mutants and generated structures in turn."""
    for index in range(count):
        rng = random.Random(seed * 1_000_003 + index)
        kind, raw = mutant(rng, seeds) if index % 2 == 0 and seeds else generated(rng)
        yield index, kind, raw


@st.composite
def hostile_messages(draw: st.DrawFn) -> bytes:
    """A hypothesis strategy over the same building blocks: headers, MIME structure and bytes are drawn."""
    fields = draw(st.lists(st.tuples(st.sampled_from([b"From", b"To", b"Subject", b"Date", b"Content-Type",
                                                      b"Content-Transfer-Encoding", b"Message-ID", b"X-\xff"]),
                                     st.one_of(st.sampled_from(WORDS + ADDRESSES[:9] + DATES), st.binary(max_size=300))),
                           max_size=12))
    head = b"".join(name + b": " + value.replace(b"\n", b" ") + draw(st.sampled_from([CRLF, b"\n", b"\r"]))
                    for name, value in fields)
    body = draw(st.one_of(st.binary(max_size=2000),
                          st.builds(lambda s: _multipart(random.Random(s), 3, 3), st.integers(0, 2**32)),
                          st.builds(lambda s: _leaf(random.Random(s)), st.integers(0, 2**32))))
    return head + draw(st.sampled_from([CRLF, b"", b"\n"])) + body
