"""Search, scan, count and aggregations.

Rows come out of SQLite in rid order, which is date order except among messages sharing one
millisecond (see keys.py); those groups are re-sorted by id so the order is exactly
(date desc, id desc), the order Elasticsearch returns, and the keyset cursor (date, id) resumes
after the last row seen without OFFSET.

Oldest first walks the driver the other way (``ORDER BY rid ASC``; FTS5 and the rowid tables
read ascending as cheaply), with the same whole-millisecond-group step, so it costs what newest
first costs. Size either way is one statement over the matches: SQLite sorts them with a top-N
heap (``ORDER BY ... LIMIT``), so a page costs a walk of the matches in the range, as the exact
total does. A size comes from the raw blob's row (``raws``, through ``message_meta.sha256``): a
message's size is its raw bytes' length, so there is no new column to migrate.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

from server.model import Message, MessageHead, head_of
from server.query.criteria import (
    DEFAULT_SORT,
    SORTS,
    Criteria,
    decode_sort_cursor,
    encode_key_cursor,
    sort_value,
)
from server.store.common import codec
from server.store.common.times import from_ms
from server.store.protocol import Aggregation, SearchPage
from server.store.sqlite.keys import (
    DEPARTMENT,
    MAILBOX,
    SLOT_BITS,
    SLOTS,
    first_rid,
    group_of,
    last_rid,
    prefix_bounds,
)
from server.store.sqlite.messages import unpack_message
from server.store.sqlite.query import FULL_RANGE, Plan, plan
from server.tuples import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import TypeVar

    from server.store.protocol import AggregateBy

    T = TypeVar("T")

DAY_MS = 86_400_000
FEW = 2000


class Row(NamedTuple):
    rid: int
    id: str
    date_ms: int


def _rids(conn: sqlite3.Connection, plan: Plan, lo: int, hi: int, limit: int | None = None) -> list[int]:
    """Matching rids in the range [lo, hi], newest first (same-millisecond order unsorted)."""
    sql, params = plan.rids_sql(lo, hi, limit)
    return [rid for (rid,) in conn.execute(sql, params)]


def _rows(conn: sqlite3.Connection, rids: list[int]) -> list[Row]:
    """The (rid, id, date) of each rid, in the given order."""
    found: dict[int, Row] = {}
    for start in range(0, len(rids), 500):
        chunk = rids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update((r[0], Row(*r)) for r in conn.execute(f"SELECT rid, id, date_ms FROM messages WHERE rid IN ({marks})", chunk))
    return [found[rid] for rid in rids if rid in found]  # a text-index row without its message is skipped


def _sort(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (group_of(r.rid), r.id), reverse=True)


def _group_rows(conn: sqlite3.Connection, plan: Plan, date_ms: int, before_id: str | None, limit: int) -> list[Row]:
    """Matches dated ``date_ms`` (one rid group), id descending, ids below ``before_id`` if given.

    One millisecond holds a handful of driver rows, so the filters are probed, never loaded."""
    lo, hi = max(plan.lo, first_rid(date_ms)), min(plan.hi, last_rid(date_ms))
    rows = _rows(conn, _rids(conn, plan.probing(), lo, hi))
    if before_id is not None:
        rows = [r for r in rows if r.id < before_id]
    return sorted(rows, key=lambda r: r.id, reverse=True)[:limit]


def _all_rids_if_few(conn: sqlite3.Connection, plan: Plan) -> list[int] | None:
    """Every matching rid, newest first, when there are at most FEW: one walk gives the total and
    the page (otherwise the count and the page are separate statements, and a selective filter
    over a large driver would be walked twice)."""
    rids = _rids(conn, plan, plan.lo, plan.hi, FEW + 1)
    return None if len(rids) > FEW else rids


def _page_of(conn: sqlite3.Connection, rids: list[int], limit: int, after: tuple[int, str] | None) -> list[Row]:
    """Up to ``limit`` rows after the cursor from every match's rid (newest first): only the rids
    that can be on the page are looked up, i.e. from the cursor's group on, ``limit`` more, and the
    rest of the last group (rids of one millisecond are neighbours; their order is by id)."""
    start = 0
    if after is not None:
        start = next((i for i, rid in enumerate(rids) if group_of(rid) <= after[0]), len(rids))
    end = start + limit
    if after is not None:
        end += sum(1 for rid in rids[start:] if group_of(rid) == after[0])
    end = min(end, len(rids))
    while 0 < end < len(rids) and group_of(rids[end]) == group_of(rids[end - 1]):
        end += 1
    rows = _sort(_rows(conn, rids[start:end]))
    return [r for r in rows if after is None or (r.date_ms, r.id) < after][:limit]


def _page_rows(conn: sqlite3.Connection, plan: Plan, limit: int, after: tuple[int, str] | None) -> list[Row]:
    """Up to ``limit`` matches in exact search order after the cursor position ``after``."""
    out: list[Row] = []
    upper = plan.hi
    if after is not None:
        out = _group_rows(conn, plan, after[0], after[1], limit)
        upper = min(upper, first_rid(after[0]) - 1)
    need = limit - len(out)
    if need <= 0 or upper < plan.lo:
        return out
    rids = _rids(conn, plan, plan.lo, upper, need)
    if len(rids) < need and plan.fallback is not None:  # the capped walk found too few: walk it all
        plan = plan.fallback
        rids = _rids(conn, plan, plan.lo, upper, need)
    rows = _rows(conn, rids)
    if len(rows) < need:
        return out + _sort(rows)
    last_group = group_of(rows[-1].rid)  # may be cut short: fetch it whole, in id order
    out += _sort([r for r in rows if group_of(r.rid) != last_group])
    return out + _group_rows(conn, plan, last_group, None, limit - len(out))


def _ascending(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (group_of(r.rid), r.id))


def _oldest_first_rows(conn: sqlite3.Connection, plan: Plan, limit: int, after: tuple[int, str] | None) -> list[Row]:
    """``_page_rows`` the other way: up to ``limit`` matches, date then id ascending, after ``after``."""
    out: list[Row] = []
    lower = plan.lo
    if after is not None:
        if plan.lo <= last_rid(after[0]) and first_rid(after[0]) <= plan.hi:
            group = _group_rows(conn, plan, after[0], None, SLOTS)
            out = [r for r in reversed(group) if r.id > after[1]][:limit]
        lower = max(lower, last_rid(after[0]) + 1)
    need = limit - len(out)
    if need <= 0 or lower > plan.hi:
        return out
    where, params = plan.where(lower, plan.hi)
    rids = [rid for (rid,) in conn.execute(f"SELECT {plan.rid} AS rid {where} ORDER BY {plan.rid} ASC LIMIT ?", [*params, need])]
    rows = _rows(conn, rids)
    if len(rows) < need:
        return out + _ascending(rows)
    last_group = group_of(rows[-1].rid)  # may be cut short: fetch it whole, in id order
    out += _ascending([r for r in rows if group_of(r.rid) != last_group])
    return out + list(reversed(_group_rows(conn, plan, last_group, None, SLOTS)))[: limit - len(out)]


def _size_rows(conn: sqlite3.Connection, plan: Plan, descending: bool, limit: int, after: tuple[int, str] | None) -> list[Row]:
    """Up to ``limit`` matches by size (ties: id in the same direction) after ``after`` (size, id)."""
    where, params = plan.where(plan.lo, plan.hi)
    direction, beyond = ("DESC", "<") if descending else ("ASC", ">")
    sql = ("SELECT m.rid, m.id, m.date_ms FROM messages m JOIN message_meta a ON a.rid = m.rid "
           f"JOIN raws r ON r.sha256 = a.sha256 WHERE m.rid IN (SELECT {plan.rid} {where})")  # fmt: skip
    if after is not None:
        sql, params = sql + f" AND (r.size, m.id) {beyond} (?, ?)", [*params, *after]
    sql += f" ORDER BY r.size {direction}, m.id {direction} LIMIT ?"
    return [Row(*r) for r in conn.execute(sql, [*params, limit])]


def _sorted_rows(conn: sqlite3.Connection, plan: Plan, sort: str, limit: int, after: tuple[int, str] | None) -> list[Row]:
    """Up to ``limit`` matches in a non-default order (``date`` ascending, ``size`` either way)."""
    field, descending = SORTS[sort]
    if field == "date":
        return _oldest_first_rows(conn, plan, limit, after)
    return _size_rows(conn, plan, descending, limit, after)


class SearchMixin:
    def search(self, criteria: Criteria, *, limit: int = 50, cursor: str | None = None,
               sort: str = DEFAULT_SORT) -> SearchPage:  # fmt: skip
        after = decode_sort_cursor(cursor, sort) if cursor else None
        with self._read() as conn:
            query = plan(criteria, conn)
            if sort != DEFAULT_SORT:
                total = _count(conn, query)
                page_plan = query.for_page(total, limit + 1)  # a capped newest-first walk fits no other order
                rows = _sorted_rows(conn, page_plan.fallback or page_plan, sort, limit + 1, after)
            else:
                # A walk of the driver alone stops after the page: only filters can make a page walk
                # long, and a large set loaded in memory makes a large total likely (count first).
                few = _all_rids_if_few(conn, query) if query.filters and not query.count_first else None
                if few is None:
                    total = _count(conn, query)
                    rows = _page_rows(conn, query.for_page(total, limit + 1), limit + 1, after)
                else:
                    total, rows = len(few), _page_of(conn, few, limit + 1, after)
            page, more = rows[:limit], len(rows) > limit
            messages = self._docs(conn, page)
        next_cursor = encode_key_cursor(sort_value(sort, messages[-1]), messages[-1].id) if more and messages else None
        return SearchPage(total=total, results=messages, next_cursor=next_cursor)

    def scan(self, criteria: Criteria, *, batch_size: int = 500) -> Iterator[Message]:
        return self._scan(criteria, batch_size, self._docs)

    def scan_heads(self, criteria: Criteria, *, batch_size: int = 500) -> Iterator[MessageHead]:
        return self._scan(criteria, batch_size, _heads)

    def _scan(self, criteria: Criteria, batch_size: int, read: Callable[[sqlite3.Connection, list[Row]], list[T]]) -> Iterator[T]:
        """Keyset pages of ``batch_size``; each page query starts where the last one ended."""
        with self._read() as conn:
            query = plan(criteria, conn)
        after: tuple[int, str] | None = None
        while True:
            with self._read() as conn:  # one snapshot per batch, none held between batches
                query = query.reading(conn)
                rows = _page_rows(conn, query, batch_size, after)
                messages = read(conn, rows)
            if not rows:
                return
            after = (rows[-1].date_ms, rows[-1].id)
            yield from messages
            if len(rows) < batch_size:
                return

    def count(self, criteria: Criteria | None = None) -> int:
        with self._read() as conn:
            return _count(conn, plan(criteria, conn))

    def total_size(self, criteria: Criteria | None = None) -> int:
        with self._read() as conn:
            query = plan(criteria, conn)
            rids, params = query.rids_sql(query.lo, query.hi)
            sql = (f"SELECT coalesce(sum(r.size), 0) FROM ({rids}) x JOIN message_meta a ON a.rid = x.rid "
                   f"JOIN raws r ON r.sha256 = a.sha256")  # fmt: skip
            return conn.execute(sql, params).fetchone()[0]

    def aggregate(self, criteria: Criteria | None, by: AggregateBy, *, size: int = 100) -> Aggregation:
        """Days ascending (days without mail left out); departments and mailboxes by count
        descending, then name ascending, the ``size`` largest."""
        with self._read() as conn:
            query = plan(criteria, conn)
            rids, params = query.rids_sql(query.lo, query.hi)
            if by == "day":
                span = DAY_MS << SLOT_BITS  # rids per day
                day = f"CASE WHEN rid >= 0 THEN rid / {span} ELSE -((-rid + {span - 1}) / {span}) END"
                rows = conn.execute(f"SELECT {day} AS d, count(*) FROM ({rids}) GROUP BY d ORDER BY d", params)
                return Aggregation({from_ms(d * DAY_MS).strftime("%Y-%m-%d"): n for d, n in rows})
            lo, hi = prefix_bounds({"department": DEPARTMENT, "mailbox": MAILBOX}[by])
            sql = f"SELECT substr(key, 3), count(*) AS n FROM {query.keys} WHERE key >= ? AND key < ? AND rid BETWEEN ? AND ?"
            args = [lo, hi, query.lo, query.hi]
            if not query.range_only:  # more than a time range: keep only the matches
                sql, args = sql + f" AND +rid IN ({rids})", args + params
            rows = conn.execute(sql + " GROUP BY key ORDER BY n DESC, key LIMIT ?", [*args, size])
            return Aggregation(dict(rows.fetchall()))

    def distinct_mailboxes(self) -> int:
        return self._conn().execute("SELECT count(*) FROM mailbox_names").fetchone()[0]

    def _docs(self, conn: sqlite3.Connection, rows: list[Row]) -> list[Message]:
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        sql = f"SELECT d.rid, d.doc, a.seq FROM message_docs d JOIN message_meta a ON a.rid = d.rid WHERE d.rid IN ({marks})"
        found = {rid: (doc, seq) for rid, doc, seq in conn.execute(sql, [r.rid for r in rows])}
        return [unpack_message(*found[r.rid]) for r in rows if r.rid in found]


def _heads(conn: sqlite3.Connection, rows: list[Row]) -> list[MessageHead]:
    """``_docs`` for ``scan_heads``: the document alone (its SHA-256 is in it), decoded with orjson
    straight away (a bulk read, so its import is paid back at once) into a ``MessageHead``."""
    if not rows:
        return []
    marks = ",".join("?" * len(rows))
    found = dict(conn.execute(f"SELECT rid, doc FROM message_docs WHERE rid IN ({marks})", [r.rid for r in rows]))
    return [head_of(codec.decode_doc(found[r.rid])) for r in rows if r.rid in found]


def _count(conn: sqlite3.Connection, query: Plan) -> int:
    if (query.lo, query.hi) == FULL_RANGE and query.range_only:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    sql, params = query.count_sql()
    return conn.execute(sql, params).fetchone()[0]
