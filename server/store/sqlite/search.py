"""Search, scan, count and aggregations.

Rows come out of SQLite in rid order, which is date order except among messages sharing one
millisecond (see keys.py); those groups are re-sorted by id so the order is exactly
(date desc, id desc), the order Elasticsearch returns, and the keyset cursor (date, id) resumes
after the last row seen without OFFSET.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from server.model import Message
from server.query.criteria import Criteria, decode_cursor, encode_cursor
from server.store.protocol import AggregateBy, Aggregation, SearchPage
from server.store.sqlite import codec
from server.store.sqlite.keys import (
    DEPARTMENT,
    MAILBOX,
    first_rid,
    from_ms,
    group_of,
    last_rid,
    prefix_bounds,
    to_ms,
)
from server.store.sqlite.query import RidFilter, rid_filter

DAY_MS = 86_400_000


class Row(NamedTuple):
    rid: int
    id: str
    date_ms: int


def _sort(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (group_of(r.rid), r.id), reverse=True)


def _group_rows(conn: sqlite3.Connection, flt: RidFilter, date_ms: int, before_id: str | None, limit: int) -> list[Row]:
    """Matches dated ``date_ms`` (one rid group), id descending, ids below ``before_id`` if given."""
    where, params = flt.sql()
    lo, hi = max(flt.lo, first_rid(date_ms)), min(flt.hi, last_rid(date_ms))
    extra = " AND m.id < ?" if before_id is not None else ""
    sql = f"SELECT m.rid, m.id, m.date_ms FROM messages m WHERE {where} AND m.rid BETWEEN ? AND ?{extra} ORDER BY m.id DESC LIMIT ?"
    args = [*params, lo, hi, *([before_id] if before_id is not None else []), limit]
    return [Row(*r) for r in conn.execute(sql, args)]


def _page_rows(conn: sqlite3.Connection, flt: RidFilter, limit: int, after: tuple[int, str] | None) -> list[Row]:
    """Up to ``limit`` matches in exact search order after the cursor position ``after``."""
    out: list[Row] = []
    upper = flt.hi
    if after is not None:
        out = _group_rows(conn, flt, after[0], after[1], limit)
        upper = min(upper, first_rid(after[0]) - 1)
    need = limit - len(out)
    if need <= 0 or upper < flt.lo:
        return out
    where, params = flt.sql()
    rows = [Row(*r) for r in conn.execute(
        f"SELECT m.rid, m.id, m.date_ms FROM messages m WHERE {where} AND m.rid <= ? ORDER BY m.rid DESC LIMIT ?",
        [*params, upper, need],
    )]  # fmt: skip
    if len(rows) < need:
        return out + _sort(rows)
    last_group = group_of(rows[-1].rid)  # may be cut short: fetch it whole, in id order
    out += _sort([r for r in rows if group_of(r.rid) != last_group])
    return out + _group_rows(conn, flt, last_group, None, limit - len(out))


class SearchMixin:
    def search(self, criteria: Criteria, *, limit: int = 50, cursor: str | None = None) -> SearchPage:
        after = None
        if cursor:
            moment, last_id = decode_cursor(cursor)
            after = (to_ms(moment), last_id)
        flt = rid_filter(criteria)
        with self._read() as conn:
            total = _count(conn, flt)
            rows = _page_rows(conn, flt, limit + 1, after)
            page, more = rows[:limit], len(rows) > limit
            messages = self._docs(conn, page)
        next_cursor = encode_cursor(from_ms(page[-1].date_ms), page[-1].id) if more and page else None
        return SearchPage(total=total, results=messages, next_cursor=next_cursor)

    def scan(self, criteria: Criteria, *, batch_size: int = 500) -> Iterator[Message]:
        """Keyset pages of ``batch_size``; each page query starts where the last one ended."""
        flt = rid_filter(criteria)
        after: tuple[int, str] | None = None
        while True:
            conn = self._conn()
            rows = _page_rows(conn, flt, batch_size, after)
            if not rows:
                return
            messages = self._docs(conn, rows)
            after = (rows[-1].date_ms, rows[-1].id)
            yield from messages
            if len(rows) < batch_size:
                return

    def count(self, criteria: Criteria | None = None) -> int:
        if criteria is None:
            return self._conn().execute("SELECT count(*) FROM messages").fetchone()[0]
        return _count(self._conn(), rid_filter(criteria))

    def aggregate(self, criteria: Criteria | None, by: AggregateBy, *, size: int = 100) -> Aggregation:
        """Days ascending (days without mail left out); departments and mailboxes by count
        descending, then name ascending, the ``size`` largest."""
        flt = rid_filter(criteria)
        where, params = flt.sql()
        conn = self._conn()
        if by == "day":
            day = f"(m.date_ms - ((m.date_ms % {DAY_MS}) + {DAY_MS}) % {DAY_MS})"
            rows = conn.execute(f"SELECT {day} AS d, count(*) FROM messages m WHERE {where} GROUP BY d ORDER BY d", params)
            return Aggregation({from_ms(d).strftime("%Y-%m-%d"): n for d, n in rows})
        kind = {"department": DEPARTMENT, "mailbox": MAILBOX}[by]
        lo, hi = prefix_bounds(kind)
        rows = conn.execute(
            f"SELECT substr(k.key, 3), count(*) AS n FROM message_keys k WHERE k.key >= ? AND k.key < ? AND k.rid IN "
            f"(SELECT m.rid FROM messages m WHERE {where}) GROUP BY k.key ORDER BY n DESC, k.key LIMIT ?",
            [lo, hi, *params, size],
        )
        return Aggregation(dict(rows.fetchall()))

    def distinct_mailboxes(self) -> int:
        return self._conn().execute("SELECT count(*) FROM mailbox_names").fetchone()[0]

    def _docs(self, conn: sqlite3.Connection, rows: list[Row]) -> list[Message]:
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = dict(conn.execute(f"SELECT rid, doc FROM message_docs WHERE rid IN ({marks})", [r.rid for r in rows]))
        return [Message.from_dict(codec.unpack_doc(found[r.rid])) for r in rows]


def _count(conn: sqlite3.Connection, flt: RidFilter) -> int:
    where, params = flt.sql()
    return conn.execute(f"SELECT count(*) FROM messages m WHERE {where}", params).fetchone()[0]
