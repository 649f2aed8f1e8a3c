"""Bulk zip export: unique safe names, a manifest whose SHA-256s match, original bytes, streaming."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import shutil
import subprocess
import sys
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.export import zipstream
from server.export.names import content_disposition, eml_filename, safe_filename
from server.export.zipstream import CHUNK, MANIFEST_FIELDS, MANIFEST_NAME, ZipStats, iter_zip
from server.model import Message

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 14, 9, 26, tzinfo=UTC)


def _message(i: int, subject: str, raw: bytes) -> Message:
    return Message(id=f"id{i:04d}", sha256=hashlib.sha256(raw).hexdigest(), date=T0 - timedelta(hours=i),
                   archived_at=T0, size=len(raw), subject=subject)


def _zip_of(items: list[tuple[Message, bytes]], **kw) -> bytes:  # noqa: ANN003
    raws = {m.id: raw for m, raw in items}
    return b"".join(iter_zip([m for m, _ in items], lambda m: raws[m.id], **kw))


HOSTILE_SUBJECTS = ["季度报告", "季度报告", "../../etc/passwd", "a/b\\c:d*e?f", "CON", "", "Report", "report",
                    "\u202eexe.txt", "x" * 400, "合同" * 200, ".hidden", "tab\there\r\nnewline"]


@pytest.fixture
def exported() -> tuple[list[tuple[Message, bytes]], zipfile.ZipFile]:
    items = []
    for i, subject in enumerate(HOSTILE_SUBJECTS):
        raw = f"Subject: {i}\r\n\r\nbody {i}\r\n".encode() + bytes(range(256)) * i  # binary-ish, varied
        items.append((_message(i, subject, raw), raw))
    return items, zipfile.ZipFile(io.BytesIO(_zip_of(items)))


def test_zip_holds_every_message_byte_identical_under_unique_safe_names(exported) -> None:  # noqa: ANN001
    items, archive = exported
    assert archive.testzip() is None
    names = [n for n in archive.namelist() if n != MANIFEST_NAME]
    assert len(names) == len(items)
    assert len({n.casefold() for n in names}) == len(names)
    for name, (_, raw) in zip(names, items, strict=True):
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert len(name.encode()) <= 190 and name.endswith(".eml")
        assert not any(ord(c) < 32 or c == "\u202e" for c in name)
        assert archive.read(name) == raw
    assert "季度报告" in names[0]


def test_manifest_lists_id_name_and_correct_sha256(exported) -> None:  # noqa: ANN001
    items, archive = exported
    rows = list(csv.DictReader(io.StringIO(archive.read(MANIFEST_NAME).decode("utf-8-sig"))))
    assert tuple(rows[0].keys()) == MANIFEST_FIELDS
    assert [r["id"] for r in rows] == [m.id for m, _ in items]
    for row, (message, raw) in zip(rows, items, strict=True):
        assert row["sha256"] == hashlib.sha256(archive.read(row["file_name"])).hexdigest() == message.sha256
        assert int(row["size"]) == len(raw)
        assert row["subject"] == message.subject


def test_zip_streams_in_chunks_without_holding_everything() -> None:
    """Messages are pulled lazily: the first chunk is out before the generator reached the end."""
    pulled = []

    raw = random.Random(1).randbytes(64 * 1024)  # deflate cannot shrink it

    def messages():  # noqa: ANN202
        for i in range(60):
            pulled.append(i)
            yield _message(i, f"m{i}", raw + f"id{i:04d}".encode())

    stream = iter_zip(messages(), lambda m: raw + m.id.encode())
    first = next(stream)
    assert len(first) >= CHUNK and len(pulled) < 60
    stats_total = len(first) + sum(len(c) for c in stream)
    assert len(pulled) == 60 and stats_total > 60 * 64 * 1024


def test_empty_selection_gives_a_valid_zip_with_header_only_manifest() -> None:
    stats = ZipStats()
    archive = zipfile.ZipFile(io.BytesIO(b"".join(iter_zip([], lambda m: b"", stats=stats))))
    assert archive.namelist() == [MANIFEST_NAME] and stats.messages == 0


def test_safe_filename_and_eml_name() -> None:
    assert safe_filename("../../etc/passwd") == "etc_passwd"
    assert safe_filename("nul.txt") == "_nul.txt"
    assert safe_filename("   ") == "file"
    long = safe_filename("报" * 300 + ".pdf")
    assert long.endswith(".pdf") and len(long.encode()) <= 180
    assert eml_filename(T0, "Re: Q1/Q2 plan") == "2025-03-14_0926_Re_ Q1_Q2 plan.eml"


def test_content_disposition_has_ascii_fallback_and_exact_utf8_name() -> None:
    header = content_disposition("合同 v2.pdf")
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%E5%90%88%E5%90%8C%20v2.pdf" in header
    assert header.encode("latin-1")  # a header value must be Latin-1 encodable
    assert content_disposition('a"b.txt', inline=True).startswith('inline; filename="a_b.txt"')


def _check_with_unzip(path) -> None:  # noqa: ANN001
    if shutil.which("unzip") is None:
        pytest.skip("Info-ZIP unzip is not installed")
    result = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("force_zip64, compress", [(False, True), (True, True), (False, False)])
def test_zip_and_zip64_structures_read_by_python_and_info_zip(tmp_path, force_zip64: bool, compress: bool) -> None:  # noqa: ANN001
    """Zip64 records (archives over 4 GiB or 65,535 entries) are forced here on a small archive."""
    items = [(_message(i, f"邮件 {i}", f"Subject: {i}\r\n\r\n{'x' * i}".encode()), f"Subject: {i}\r\n\r\n{'x' * i}".encode())
             for i in range(30)]
    path = tmp_path / "out.zip"
    path.write_bytes(_zip_of(items, force_zip64=force_zip64, compress=compress))
    archive = zipfile.ZipFile(path)
    assert archive.testzip() is None
    infos = [i for i in archive.infolist() if i.filename != MANIFEST_NAME]
    assert [archive.read(i) for i in infos] == [raw for _, raw in items]
    assert infos[3].date_time[:5] == (2025, 3, 14, 6, 26)  # T0 - 3 hours
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED}
    _check_with_unzip(path)


def test_memory_does_not_grow_with_the_number_of_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing stays in memory per entry: directory and manifest are spooled (to disk past SPOOL)."""
    monkeypatch.setattr(zipstream, "SPOOL", 64 * 1024)
    raw = b"Subject: s\r\n\r\n" + random.Random(2).randbytes(2000)

    def peak(count: int) -> int:
        messages = (_message(i, "same subject", raw) for i in range(count))
        tracemalloc.start()
        for _ in iter_zip(messages, lambda m: raw):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(500), peak(5000)
    assert large < small + 256 * 1024  # 10x the entries, same memory (zipfile's ZipInfo list: +6 MB here)


def test_a_message_whose_bytes_changed_stops_the_zip() -> None:
    """The bytes are checked against the SHA-256 recorded at archiving as they are read."""
    good, bad = b"Subject: a\r\n\r\nfine\r\n", b"Subject: b\r\n\r\noriginal\r\n"
    items = [(_message(0, "a", good), good), (_message(1, "b", bad), b"Subject: b\r\n\r\nALTERED\r\n")]
    with pytest.raises(zipstream.CorruptMessage, match="id0001: stored bytes have SHA-256"):
        _zip_of(items)


def test_manifest_cells_a_spreadsheet_would_run_are_neutralised() -> None:
    raw = b"Subject: x\r\n\r\nx\r\n"
    hostile = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "plain"]
    items = [(_message(i, subject, raw), raw) for i, subject in enumerate(hostile)]
    archive = zipfile.ZipFile(io.BytesIO(_zip_of(items)))
    rows = list(csv.DictReader(io.StringIO(archive.read(MANIFEST_NAME).decode("utf-8-sig"))))
    assert [row["subject"] for row in rows] == ["'" + s for s in hostile[:-1]] + ["plain"]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row.values())


_FAILING_WRITE = """
import errno, hashlib, resource, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from server.export.archive_file import partial_path, write_zip
from server.model import Message
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the kernel then refuses the write with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
raws = [bytes([i]) * 200_000 for i in range(20)]  # 4 MB: the writing thread's writes fail past 1 MB
messages = [Message(id=f"m{i}", sha256=hashlib.sha256(r).hexdigest(), date=datetime(2025, 3, 1, tzinfo=UTC),
                    archived_at=datetime(2025, 3, 1, tzinfo=UTC), size=len(r)) for i, r in enumerate(raws)]
path = Path(sys.argv[1]) / "out.zip"
try:
    write_zip(messages, lambda m: raws[int(m.id[1:])], path)
except OSError as exc:
    assert exc.errno == errno.EFBIG, exc
    assert not path.exists() and not partial_path(path).exists(), list(path.parent.iterdir())
    print("refused")
"""


def test_a_write_refused_by_the_disk_stops_the_zip_and_leaves_no_file(tmp_path) -> None:  # noqa: ANN001
    """The zip is written by a thread of its own: a write it could not make (disk full, file too
    large) reaches the caller as the OSError, and neither the partial nor the final file is left."""
    done = subprocess.run([sys.executable, "-c", _FAILING_WRITE, str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "refused", done.stdout + done.stderr
