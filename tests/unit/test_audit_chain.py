"""The hash chain, anchors and query validation of the audit log, without a store."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.audit.anchors import AnchorFile
from server.audit.chain import (
    GENESIS,
    canonical_json,
    entry_hash,
    plain_details,
    record_from_dict,
    record_to_dict,
)
from server.audit.query import csv_lines, parse_audit_query
from server.query.criteria import CriteriaError
from server.store.protocol import AuditRecord


def _record(**changes: object) -> AuditRecord:
    base = AuditRecord(
        seq=1, time=datetime(2024, 3, 1, 8, 30, tzinfo=UTC), actor="alice", role="archive-admin",
        source_ip="10.0.0.7", operation="search", target="", details={"hits": 3, "keyword": "合同"},
        result="success", prev_hash=GENESIS, hash="",
    )  # fmt: skip
    return base._replace(**changes)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": "合同"}) == '{"a":"合同","b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_plain_details_makes_values_what_a_backend_returns() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    assert plain_details({"when": moment, "ids": ("a", "b")}) == {"when": str(moment), "ids": ["a", "b"]}
    assert plain_details(None) == {}


@pytest.mark.parametrize(
    "change",
    [{"seq": 2}, {"actor": "bob"}, {"role": "email-admin"}, {"source_ip": "10.0.0.8"}, {"operation": "login"},
     {"target": "x"}, {"details": {"hits": 4, "keyword": "合同"}}, {"result": "failure"},
     {"prev_hash": "1" * 64}, {"time": datetime(2024, 3, 1, 8, 30, 0, 1000, tzinfo=UTC)}],
)  # fmt: skip
def test_hash_covers_every_field(change: dict) -> None:
    assert entry_hash(_record(**change)) != entry_hash(_record())


def test_hash_is_stable_and_round_trips_through_the_wire_form() -> None:
    record = _record()
    record.hash = entry_hash(record)
    # The documented format (docs/audit.md), re-implemented independently of the code under test:
    content = (
        '{"actor":"alice","details":{"hits":3,"keyword":"合同"},"operation":"search","result":"success",'
        '"role":"archive-admin","seq":1,"source_ip":"10.0.0.7","target":"","time":"2024-03-01T08:30:00.000Z"}'
    )
    assert record.hash == hashlib.sha256(f"{GENESIS}\n{content}".encode()).hexdigest()
    again = record_from_dict(record_to_dict(record))
    assert again == record and entry_hash(again) == record.hash


def test_anchor_file_appends_and_reads_sorted(tmp_path: Path) -> None:
    anchors = AnchorFile(tmp_path / "anchors")
    anchors.append(5, "a" * 64)
    anchors.append(3, "b" * 64)
    found, malformed = anchors.read()
    assert [(a.seq, a.hash, a.line) for a in found] == [(3, "b" * 64, 2), (5, "a" * 64, 1)]
    assert malformed == []


def test_anchor_file_reports_malformed_lines(tmp_path: Path) -> None:
    anchors = AnchorFile(tmp_path)
    anchors.append(1, "c" * 64)
    with anchors.path.open("a") as fh:
        fh.write("2 not-a-hash 2024\n")
    assert anchors.read()[1] == [2]
    assert AnchorFile(tmp_path / "absent").read() == ([], [])


def test_query_requires_a_time_range() -> None:
    with pytest.raises(CriteriaError, match="time range is required"):
        parse_audit_query({"from": "2024-01-01"})


def test_query_rejects_unknown_operation_and_bad_cursor() -> None:
    base = {"from": "2024-01-01", "to": "2024-01-31"}
    with pytest.raises(CriteriaError, match="unknown operation 'explode'"):
        parse_audit_query({**base, "operation": "explode"})
    with pytest.raises(CriteriaError, match="cursor"):
        parse_audit_query({**base, "cursor": "abc"})
    with pytest.raises(CriteriaError, match="after"):
        parse_audit_query({"from": "2024-02-01", "to": "2024-01-01"})


def test_query_dates_are_whole_days_in_the_time_zone() -> None:
    query = parse_audit_query(
        {"from": "2024-01-01", "to": "2024-01-01", "actor": " alice ", "operation": "search", "cursor": "7"},
        tz="Asia/Shanghai",
    )
    assert query.start == datetime(2023, 12, 31, 16, tzinfo=UTC)
    assert query.end == datetime(2024, 1, 1, 15, 59, 59, 999000, tzinfo=UTC)
    assert (query.actor, query.operation, query.after_seq, query.limit) == ("alice", "search", 7, 50)


def test_csv_has_header_and_one_row_per_entry() -> None:
    record = _record(target='msg "1", two')
    text = "".join(csv_lines(iter([record, _record(seq=2)])))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["seq", "time", "actor"]
    assert rows[1][6] == 'msg "1", two' and rows[1][7] == '{"hits":3,"keyword":"合同"}'
    assert rows[1][1] == "2024-03-01T08:30:00.000Z" and len(rows) == 3


def test_every_operation_has_english_and_chinese_labels() -> None:
    from server.audit.labels import OPERATION_LABELS, operation_label, result_label
    from server.audit.operations import Op

    assert set(OPERATION_LABELS) == set(Op)
    assert operation_label("search", "zh-CN") == "查询邮件" and operation_label("search") == "Search"
    assert operation_label("future_op", "zh") == "future_op" and result_label("denied", "zh") == "拒绝"


def test_the_chain_hash_is_hashlib_sha256_without_its_openssl_start_up() -> None:
    """``entry_hash`` uses CPython's own SHA-256 where there is one (no OpenSSL to load at a
    command's start-up): the same digest as ``hashlib.sha256`` over the documented payload."""
    from server.audit import chain

    record = _record(details={"keyword": "合同" * 500})
    payload = record.prev_hash.encode() + b"\n" + chain.canonical_json(chain.content_of(record)).encode("utf-8")
    assert chain.entry_hash(record) == hashlib.sha256(payload).hexdigest()
    assert chain.sha256.__module__ in {"_sha256", "_sha2"}, "the OpenSSL-free SHA-256 was not found"
    for size in (0, 1, 55, 56, 64, 1000, 100_000):
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        assert chain.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
