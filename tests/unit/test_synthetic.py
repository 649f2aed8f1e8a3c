"""The synthetic mail generator: deterministic, parseable, and with the mix the benchmark claims."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from pathlib import Path

import pytest

from server.model import normalize_department
from server.synthetic import (
    MailGenerator,
    build_directory,
    department_paths,
    generate_corpus,
    iter_raw,
    load_corpus,
)
from server.synthetic.words import INTERNAL_DOMAINS

N = 2000


@pytest.fixture(scope="module")
def directory():
    return build_directory(seed=7)


@pytest.fixture(scope="module")
def sample(directory) -> list[bytes]:
    return list(MailGenerator(directory, seed=7, stream=0, first=0, count=N, total=N))


@pytest.fixture(scope="module")
def parsed(sample) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in sample]


def test_directory_is_a_company_of_two_thousand(directory) -> None:
    addresses = [p.address for p in directory.accounts]
    assert len(addresses) == 2000 == len(set(addresses))
    assert all(a.split("@")[1] in INTERNAL_DOMAINS for a in addresses)
    paths = set(department_paths())
    assert {p.department for p in directory.accounts} <= paths
    assert all(normalize_department(p) == p for p in paths)
    assert len({p.department.split("/")[1] for p in directory.accounts}) >= 7
    assert not set(addresses) & {p.address for p in directory.externals}


def test_same_seed_same_bytes_other_stream_other_bytes(directory, sample) -> None:
    again = list(MailGenerator(directory, seed=7, stream=0, first=0, count=50, total=N))
    other = list(MailGenerator(directory, seed=7, stream=1, first=0, count=50, total=N))
    assert again == sample[:50]
    assert other != again


def test_every_message_parses_and_is_mbox_safe(sample, parsed) -> None:
    assert len(sample) == N
    for raw, msg in zip(sample, parsed, strict=True):
        assert msg["From"] and msg["Date"] and msg["Subject"] is not None
        assert msg.get_body(("plain", "html")) is not None
        assert b"\nFrom " not in raw  # no mbox escaping needed: the mbox bytes are the message bytes


def test_sizes_are_typical_office_mail(sample) -> None:
    sizes = sorted(len(raw) for raw in sample)
    assert 4_000 < sizes[len(sizes) // 2] < 12_000
    assert 7_000 < sum(sizes) / len(sizes) < 16_000
    assert sizes[-1] > 50_000  # a long tail


def test_mix_of_kinds(sample) -> None:
    kinds = Counter()
    for raw in sample:
        for marker in (b"filename", b"In-Reply-To:", b"Auto-Submitted: auto-replied", b"X-Spam-Flag: YES",
                       b"multipart/report", b"multipart/alternative", b"charset=\"gb"):
            kinds[marker] += marker in raw
    assert 0.16 < kinds[b"filename"] / N < 0.25
    assert kinds[b"In-Reply-To:"] / N > 0.2
    assert kinds[b"multipart/alternative"] / N > 0.3
    for rare in (b"Auto-Submitted: auto-replied", b"X-Spam-Flag: YES", b"multipart/report", b"charset=\"gb"):
        assert kinds[rare] > 3, rare


def test_chinese_and_english_text(parsed) -> None:
    subjects = [str(msg["Subject"]) for msg in parsed[:400]]
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", s)) for s in subjects) > 80
    assert sum(s.isascii() for s in subjects) > 150


def test_attachment_names_in_every_charset_decode(sample, parsed) -> None:
    charsets, names = Counter(), []
    for raw, msg in zip(sample, parsed, strict=True):
        for m in re.finditer(rb"(?:=\?|\*=|\*0\*=)([A-Za-z0-9-]+)(?:\?[BQ]\?|'')", raw):
            charsets[m.group(1).decode().lower()] += 1
        names += [part.get_filename() for part in msg.iter_attachments() if part.get_filename()]
    assert {"utf-8", "gb18030", "gbk", "big5", "iso-2022-jp", "iso-8859-1"} <= set(charsets)
    assert names and all("=?" not in n and "\ufffd" not in n for n in names)
    assert any(re.search(r"[\u3040-\u30ff]", n) for n in names)  # Japanese from ISO-2022-JP
    assert any(re.search(r"[éèüöäñ]", n) for n in names)  # Latin-1


def test_threads_reference_earlier_messages(parsed) -> None:
    seen: set[str] = set()
    replies = 0
    for msg in parsed:
        if msg["In-Reply-To"]:
            replies += 1
            assert msg["In-Reply-To"] in seen
            assert str(msg["References"]).split()[-1] == msg["In-Reply-To"]
        if msg["Message-ID"]:
            seen.add(msg["Message-ID"])
    assert replies > 100


def test_journal_copies_differ_only_in_trace_headers(sample) -> None:
    by_id: dict[str, list[bytes]] = {}
    for raw in sample:
        match = re.search(rb"\nMessage-ID: (<[^>]+>)", raw)
        if match:
            by_id.setdefault(match.group(1).decode(), []).append(raw)
    copies = [group for group in by_id.values() if len(group) > 1]
    assert len(copies) > 5
    for group in copies:
        bodies = {raw[raw.index(b"\nFrom: ") :] for raw in group}
        assert len(bodies) == 1
        assert len({re.search(rb"Delivered-To: (\S+)", raw).group(1) for raw in group}) == len(group)


@pytest.mark.parametrize("fmt", ["mbox", "maildir"])
def test_corpus_on_disk_holds_the_generated_bytes(tmp_path: Path, directory, fmt: str) -> None:
    info = generate_corpus(tmp_path, 120, seed=7, fmt=fmt, workers=1)
    assert info.count == 120 and (tmp_path / "directory.csv").is_file()
    on_disk = [raw for path in info.paths(tmp_path) for raw in iter_raw(path)]
    assert on_disk == list(MailGenerator(directory, seed=7, stream=0, first=0, count=120, total=120))
    assert info.bytes == sum(map(len, on_disk))
    assert load_corpus(tmp_path, 120, seed=7, fmt=fmt) == info
    assert load_corpus(tmp_path, 121, seed=7, fmt=fmt) is None
