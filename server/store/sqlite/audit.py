"""The audit log in SQLite: one append-only table, ``seq`` as its primary key.

Appends run under the database write lock (``BEGIN IMMEDIATE``), so checking "seq = last + 1" and
inserting are one atomic step across processes. Triggers abort any UPDATE or DELETE, so no code
path of the application can rewrite history; someone who drops them with raw SQL is caught by the
hash chain (``mailarchive audit verify``).

``time`` is the ISO text of ``format_time`` (fixed width, ``Z``), so text order is time order.
``search_text`` is the lower-cased target + details (as JSON) that narrows the keyword filter; the
match itself is decided on the detail values only (``keyword_in_values``, a Python function
registered on the connection), so key names never match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from server.model import format_time
from server.store.common.audit_records import (
    canonical_json,
    keyword_in_values,
    prefilter_forms,
    record_from_dict,
    search_text,
)
from server.store.protocol import AuditQuery, AuditRecord, StoreError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

# The migration (schema.py lists it as "append-only audit log").
AUDIT_V1_SQL = """
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        source_ip TEXT NOT NULL,
        operation TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        result TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        search_text TEXT NOT NULL
    );
    CREATE INDEX audit_time ON audit (time);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

COLUMNS = ("seq", "time", "actor", "role", "source_ip", "operation", "target", "details", "result", "prev_hash", "hash")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM audit"
SCAN_BATCH = 1000


def audit_row(record: AuditRecord) -> tuple[Any, ...]:
    """The row stored for ``record``, in ``COLUMNS`` order plus ``search_text``."""
    return (
        record.seq, format_time(record.time), record.actor, record.role, record.source_ip, record.operation,
        record.target, canonical_json(record.details), record.result, record.prev_hash, record.hash,
        search_text(record),
    )  # fmt: skip


def _record(row: tuple[Any, ...]) -> AuditRecord:
    return record_from_dict(dict(zip(COLUMNS, row, strict=True)))


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    clauses, args = ["time >= ?", "time <= ?"], [format_time(query.start), format_time(query.end)]
    for column in ("actor", "operation"):
        if getattr(query, column):
            clauses.append(f"{column} = ?")
            args.append(getattr(query, column))
    if query.keyword:  # the indexed text narrows; the values-only check decides (audit_records.py)
        forms = prefilter_forms(query.keyword)
        clauses.append("(" + " OR ".join("instr(search_text, ?) > 0" for _ in forms) + ")")
        clauses.append("audit_keyword_in_values(target, details, ?)")
        args.extend([*forms, query.keyword.lower()])
    return " AND ".join(clauses), args


class AuditMixin:
    def audit_append(self, record: AuditRecord) -> None:
        try:
            with self._write() as conn:
                (last,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()
                if record.seq != last + 1:
                    raise StoreError(f"audit seq {record.seq} refused: the last entry is {last}")
                conn.execute(f"INSERT INTO audit ({', '.join(COLUMNS)}, search_text) VALUES ({', '.join('?' * 12)})",
                             audit_row(record))  # fmt: skip
        except sqlite3.Error as exc:
            raise StoreError(f"audit entry {record.seq} not written to {self.path}: {exc}") from exc

    def audit_last(self) -> AuditRecord | None:
        row = self._conn().execute(f"{_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
        return _record(row) if row else None

    def audit_query(self, query: AuditQuery) -> tuple[int, list[AuditRecord]]:
        where, args = _where(query)
        page_where, page_args = where, list(args)
        if query.after_seq is not None:
            page_where += " AND seq < ?"
            page_args.append(query.after_seq)
        with self._read() as conn:
            conn.create_function("audit_keyword_in_values", 3, keyword_in_values, deterministic=True)
            (total,) = conn.execute(f"SELECT count(*) FROM audit WHERE {where}", args).fetchone()
            # Pick the page's seqs first: over a wide range the time index covers that step, and only
            # the page's rows are read (sorting whole rows by seq took seconds at 300k entries).
            page = f"SELECT seq FROM audit WHERE {page_where} ORDER BY seq DESC LIMIT ?"
            rows = conn.execute(f"{_SELECT} WHERE seq IN ({page}) ORDER BY seq DESC", [*page_args, query.limit])
            return total, [_record(row) for row in rows]

    def audit_scan(self, *, from_seq: int = 1) -> Iterator[AuditRecord]:
        """Batches by seq range: no read transaction stays open while the caller works."""
        next_seq = from_seq
        while True:
            rows = self._conn().execute(f"{_SELECT} WHERE seq >= ? ORDER BY seq LIMIT ?", (next_seq, SCAN_BATCH)).fetchall()
            yield from (_record(row) for row in rows)
            if len(rows) < SCAN_BATCH:
                return
            next_seq = rows[-1][0] + 1
