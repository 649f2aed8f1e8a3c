"""Criteria to SQL: which rid set drives the query, and which sets only filter it.

Every criterion is a set of rids: the FTS match, the message_keys rows of a mailbox, a sender...
Each can be walked newest first within a rid range straight from its index (FTS5 seeks its
doclists by rowid; message_keys has the primary key (key, rid)). The plan walks one of them, the
*driver*, in rid order and checks the others against small in-memory sets that SQLite builds once
per statement (``+rid IN (SELECT ...)``; the ``+`` keeps that test out of the driver's index so
it is never pushed into FTS5, which handles ``rowid IN`` very badly).

The driver is the keyword match when there is a keyword (FTS5 cannot be probed cheaply row by
row: 0.3-1 ms a probe, it re-parses and re-seeks per call), else the smallest key set.

Measured (one search = exact total + first page of 50, 2 cores shared with other jobs, load 3-8;
200k synthetic messages over one year, 300 Zipf-distributed words + 60 CJK characters each):
filters alone, rare words, CJK, one day or one month of anything: 1-20 ms; a word found in every
message over the whole year: 30-70 ms (the count walks its doclist); a department with
sub-departments (a third of the archive) over the year: ~20 ms; that department AND a word found
in every message: 100-330 ms; a phrase of the two most frequent words over the year: ~190-250 ms
(position checks). Tried and rejected: a correlated FTS ``MATCH ... AND rowid = ?`` probe per
row (0.3-1 ms each), ``rowid IN (subquery)`` inside MATCH (23 s), and one IN-subquery per filter
over the narrow ``messages`` table (5-25x slower than walking a driver).

Growth: the rid range confines every walk to the searched time span, so a narrow range costs the
same at any archive size; whole-archive counts grow linearly with the *matches* (exact totals
must visit them), not with the archive. Monthly partitioning was considered: with date-ordered
rids FTS5 already restricts a MATCH to the range, so separate tables per month would only add
a merge step.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from server.query.criteria import SCOPES, Criteria
from server.store.sqlite.keys import DEPARTMENT, DEPARTMENT_PATH, MAILBOX, RECIPIENT, SENDER, key, rid_range

FTS_COLUMNS = {"subject": "subject", "body": "body", "attachment": "attachment"}
FULL_RANGE = (-(1 << 63), (1 << 63) - 1)


def fts_expression(phrases: tuple[tuple[str, ...], ...], scope: frozenset[str]) -> str:
    """FTS5 MATCH text: every phrase in at least one scoped column (phrases may use different ones).

    User tokens only ever appear inside double-quoted strings (quotes doubled), so no input can
    become an FTS5 operator, column name or prefix query.
    """
    quoted = ['"' + " ".join(t.replace('"', '""') for t in phrase) + '"' for phrase in phrases]
    if scope >= set(SCOPES):  # every column: no filter (a column filter costs ~30% on common words)
        return " AND ".join(quoted)
    columns = " ".join(FTS_COLUMNS[s] for s in SCOPES if s in scope)
    return " AND ".join(f"({{{columns}}} : {q})" for q in quoted)


LARGE_SET = 20_000  # key sets above this are probed row by row instead of loaded into memory


@dataclass
class KeyFilter:
    """Messages having any of ``keys``; ``probe``: look each driver row up instead of loading the set."""

    keys: list[str]
    probe: bool = False

    def sql(self, rid: str, lo: int, hi: int) -> tuple[str, list]:
        marks = ",".join("?" * len(self.keys))
        if self.probe:
            return f"EXISTS (SELECT 1 FROM message_keys k WHERE k.key IN ({marks}) AND k.rid = {rid})", list(self.keys)
        return f"+{rid} IN (SELECT rid FROM message_keys WHERE key IN ({marks}) AND rid BETWEEN ? AND ?)", [*self.keys, lo, hi]


@dataclass
class Plan:
    """``source`` is ``FROM ... d WHERE <driver condition>``; ``rid`` is the driver's rid column."""

    lo: int
    hi: int
    source: str = "FROM messages d WHERE 1"
    rid: str = "d.rid"
    params: list = field(default_factory=list)
    filters: list[KeyFilter] = field(default_factory=list)

    @property
    def range_only(self) -> bool:
        return self.source == Plan.source and not self.filters

    def where(self, lo: int, hi: int) -> tuple[str, list]:
        """Driver condition, the rid range [lo, hi] and every filter, with their parameters."""
        sql = f"{self.source} AND {self.rid} BETWEEN ? AND ?"
        params = [*self.params, lo, hi]
        for flt in self.filters:
            condition, more = flt.sql(self.rid, self.lo, self.hi)
            sql, params = f"{sql} AND {condition}", params + more
        return sql, params

    def rids_sql(self, lo: int, hi: int, limit: int | None = None) -> tuple[str, list]:
        """Matching rids in [lo, hi], newest first."""
        where, params = self.where(lo, hi)
        sql = f"SELECT {self.rid} AS rid {where} ORDER BY {self.rid} DESC"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return sql, params

    def count_sql(self) -> tuple[str, list]:
        where, params = self.where(self.lo, self.hi)
        return f"SELECT count(*) {where}", params


def _set_size(conn: sqlite3.Connection, keys: list[str], lo: int, hi: int) -> int:
    """Rows of the key set in the range, counted up to LARGE_SET + 1 (cheap: index only)."""
    marks = ",".join("?" * len(keys))
    sql = f"SELECT count(*) FROM (SELECT 1 FROM message_keys WHERE key IN ({marks}) AND rid BETWEEN ? AND ? LIMIT ?)"
    return conn.execute(sql, [*keys, lo, hi, LARGE_SET + 1]).fetchone()[0]


def _key_sets(criteria: Criteria) -> list[list[str]]:
    sets = [[key(MAILBOX, m) for m in criteria.mailboxes]] if criteria.mailboxes else []
    if criteria.sender:
        sets.append([key(SENDER, criteria.sender)])
    if criteria.recipient:
        sets.append([key(RECIPIENT, criteria.recipient)])
    if criteria.department:
        sets.append([key(DEPARTMENT_PATH if criteria.include_subdepartments else DEPARTMENT, criteria.department)])
    return sets


def _fts_size(conn: sqlite3.Connection, match: str, lo: int, hi: int) -> int:
    sql = "SELECT count(*) FROM (SELECT 1 FROM message_text WHERE message_text MATCH ? AND rowid BETWEEN ? AND ? LIMIT ?)"
    return conn.execute(sql, [match, lo, hi, LARGE_SET + 1]).fetchone()[0]


def plan(criteria: Criteria | None, conn: sqlite3.Connection) -> Plan:
    """Walk the keyword match if any, else the smallest key set; check the other sets.

    A set is checked by loading it once per statement (``IN``) when it is small, or by looking
    each walked row up in the index (``EXISTS``, ~1-2 us a row) when the walk is the smaller side.
    Sizes are counted up to LARGE_SET only, so planning costs a few milliseconds at most.
    """
    if criteria is None:
        return Plan(*FULL_RANGE)
    lo, hi = rid_range(criteria.start, criteria.end)
    sized = sorted(((_set_size(conn, keys, lo, hi), keys) for keys in _key_sets(criteria)), key=lambda s: s[0])
    result = Plan(lo, hi, filters=[KeyFilter(keys) for _, keys in sized])
    if criteria.phrases:
        match = fts_expression(criteria.phrases, criteria.scope)
        result.source, result.rid, result.params = "FROM message_text d WHERE d.message_text MATCH ?", "d.rowid", [match]
        if sized and sized[-1][0] > LARGE_SET and _fts_size(conn, match, lo, hi) <= LARGE_SET:
            for (size, _), flt in zip(sized, result.filters, strict=True):
                flt.probe = size > LARGE_SET
    elif result.filters:  # walk the smallest set, look the others up row by row
        keys = result.filters.pop(0).keys
        for flt in result.filters:
            flt.probe = True
        if len(keys) == 1:
            result.source, result.params = "FROM message_keys d WHERE d.key = ?", keys
        else:
            marks = ",".join("?" * len(keys))
            result.source = f"FROM messages d WHERE d.rid IN (SELECT rid FROM message_keys WHERE key IN ({marks}) AND rid BETWEEN ? AND ?)"
            result.params = [*keys, lo, hi]
    return result
