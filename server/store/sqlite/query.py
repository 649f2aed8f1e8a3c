"""Criteria to SQL: which rid set drives the query, and which sets only filter it.

Every criterion is a set of rids: the FTS match, the message_keys rows of a mailbox, a sender...
Each can be walked newest first within a rid range straight from its index (FTS5 seeks its
doclists by rowid; message_keys has the primary key (key, rid)). The plan walks one of them, the
*driver*, in rid order and checks the others against small in-memory sets that SQLite builds once
per statement (``+rid IN (SELECT ...)``; the ``+`` keeps that test out of the driver's index so
it is never pushed into FTS5, which handles ``rowid IN`` very badly).

The driver is the keyword match when there is a keyword (FTS5 cannot be probed cheaply row by
row: 0.3-1 ms a probe, it re-parses and re-seeks per call), else the smallest key set. A
department with a keyword is no set at all: the text index holds each message's departments as
tokens (fts_text.py), so the MATCH is ``(<keyword>) AND "<department token>"`` and FTS5 intersects
the two doclists itself, where the key set of a large department tree (~490k rows over a year at
1M) cost ~0.26 us a row to build, per statement: that kind was the one over 100 ms (p95 206 ms).

Measured (one search = exact total + first page of 50; 2 cores shared with other jobs; synthetic
mail over one year, 300 Zipf-distributed words + 60 CJK characters each; 1M messages, 3.6 GB):
one day or one month of anything, filters alone, rare words, CJK: 2-25 ms; the whole year unfiltered
(count of 1M): ~90 ms; a department with sub-departments (311k messages) over the year: ~25 ms;
that department AND a word in 1% / 5% of mail: ~30 / ~85 ms; a word in every message over the
year: ~90-150 ms; a mailbox (811 messages) AND that word: ~220 ms; the department AND that word:
~600 ms (before the department tokens; see docs/performance.md for after); a phrase of the two
most frequent words: ~420-580 ms. At 200k messages the same
whole-year queries took about a fifth of that: cost follows the matches in the range.
Tried and rejected: a correlated FTS ``MATCH ... AND rowid = ?`` probe per
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
from collections.abc import Callable

from server.query.criteria import SCOPES, Criteria
from server.query.keywords import And, Node, Not, Or, Term
from server.store.sqlite.fts_text import bigram_phrase, key_token
from server.store.sqlite.keys import (
    DEPARTMENT,
    DEPARTMENT_PATH,
    MAILBOX,
    RECIPIENT,
    RECIPIENT_DOMAIN,
    SENDER,
    SENDER_DOMAIN,
    address_key,
    key,
    rid_range,
)
from server.store.sqlite.staged_keys import KEYS, keys_table

FTS_COLUMNS = {"subject": "subject", "body": "body", "attachment": "attachment"}
FULL_RANGE = (-(1 << 63), (1 << 63) - 1)


def fts_expression(query: Node, scope: frozenset[str]) -> str:
    """FTS5 MATCH text for a keyword tree: each term in at least one scoped column (terms of one
    query may match different columns), AND / OR / NOT as the tree says.

    User tokens only ever appear inside double-quoted strings (quotes doubled), so no input can
    become an FTS5 operator or column name; a prefix term is ``"deliv"*``. CJK tokens are looked
    up as the index stores them (bigrams, see fts_text.py): ``合同`` is ``"合同"``, ``合`` is ``"合"*``. Every group is
    parenthesised, so FTS5's own precedence (NOT > AND > OR) never decides anything.
    """
    columns = "" if scope >= set(SCOPES) else "{" + " ".join(FTS_COLUMNS[s] for s in SCOPES if s in scope) + "} : "
    # every column: no filter (a column filter costs ~30% on common words)

    def term(node: Term) -> str:
        tokens, prefix = bigram_phrase(node.tokens, node.prefix)  # the index's CJK bigrams (fts_text.py)
        quoted = '"' + " ".join(t.replace('"', '""') for t in tokens) + '"' + ("*" if prefix else "")
        return f"({columns}{quoted})" if columns else quoted

    def walk(node: Node) -> str:
        if isinstance(node, Term):
            return term(node)
        if isinstance(node, Or):
            return "(" + " OR ".join(walk(c) for c in node.children) + ")"
        if not isinstance(node, And):  # a Not is only ever a child of an And (keywords.py guarantees)
            raise ValueError(f"no FTS5 form for {node!r} on its own")
        out = "(" + " AND ".join(walk(c) for c in node.children if not isinstance(c, Not)) + ")"
        for child in node.children:
            if isinstance(child, Not):
                out = f"({out} NOT {walk(child.child)})"
        return out

    return walk(query)


LARGE_SET = 20_000  # key sets above this may be probed row by row instead of loaded into memory
PROBE_RATIO = 0.3  # ... when the walk is below this fraction of the set (see _probe_large_sets)
PROBE_MAX_MATCHES = 100_000  # keyword matches counted while planning, at most
PAGE_VISITS = 20  # a page walk without a driver count first probes this many driver rows per row wanted
PROBE_COST_RATIO = 5  # a row probed costs about as much as five rows of a set loaded (1.3 vs 0.26 us)


ALL_ROWS = "FROM messages d WHERE 1"  # a plan's driver when only the time range is asked for


class KeyFilter:
    """Messages having any of ``keys``; ``probe``: look each driver row up instead of loading the set.
    A slots class, not a dataclass: building one costs a command-line search ~1 ms of start-up."""

    __slots__ = ("keys", "probe", "rows")

    def __init__(self, keys: list[str], probe: bool = False, rows: int | None = None) -> None:
        self.keys = keys
        self.probe = probe
        self.rows = rows  # rows of the set in the range, when planning counted them exactly

    def sql(self, rid: str, lo: int, hi: int, table: str = KEYS) -> tuple[str, list]:
        """``table``: the key table expression of the snapshot (``staged_keys.keys_table``)."""
        marks = ",".join("?" * len(self.keys))
        if self.probe:
            return f"EXISTS (SELECT 1 FROM {table} k WHERE k.key IN ({marks}) AND k.rid = {rid})", list(self.keys)
        return f"+{rid} IN (SELECT rid FROM {table} WHERE key IN ({marks}) AND rid BETWEEN ? AND ?)", [*self.keys, lo, hi]


class Plan:
    """``source`` is ``FROM ... d WHERE <driver condition>``; ``rid`` is the driver's rid column.
    A slots class like ``KeyFilter``; ``_but`` is its ``dataclasses.replace``."""

    __slots__ = ("lo", "hi", "source", "rid", "params", "filters", "driver_rows", "count_first", "visit_cap", "fallback",
                 "keys")  # fmt: skip

    def __init__(self, lo: int, hi: int, source: str = ALL_ROWS, rid: str = "d.rid", params: list | None = None,
                 filters: list[KeyFilter] | None = None, driver_rows: int | None = None, count_first: bool = False,
                 visit_cap: int | None = None, fallback: Plan | None = None, keys: str = KEYS) -> None:  # fmt: skip
        self.lo, self.hi, self.source, self.rid = lo, hi, source, rid
        self.keys = keys  # the filter keys' table expression in the planning snapshot (staged_keys.py)
        self.params = [] if params is None else params
        self.filters = [] if filters is None else filters
        self.driver_rows = driver_rows  # keyword matches in the range, when planning counted them all
        self.count_first = count_first  # a large set is loaded: the total is likely large, count before the page
        self.visit_cap = visit_cap  # walk at most this many driver rows (see for_page)
        self.fallback = fallback  # the plan to walk again if the capped walk found too few

    def _but(self, **changes: object) -> Plan:
        return Plan(**{name: getattr(self, name) for name in self.__slots__} | changes)  # type: ignore[arg-type]

    def reading(self, conn: sqlite3.Connection) -> Plan:
        """The plan for a later snapshot (a scan's next batch): an import may have begun or ended
        staging filter keys since it was made."""
        table = keys_table(conn)
        if table == self.keys:
            return self
        return self._but(keys=table, fallback=self.fallback and self.fallback.reading(conn))

    @property
    def range_only(self) -> bool:
        return self.source == ALL_ROWS and not self.filters

    def where(self, lo: int, hi: int) -> tuple[str, list]:
        """Driver condition, the rid range [lo, hi] and every filter, with their parameters."""
        sql = f"{self.source} AND {self.rid} BETWEEN ? AND ?"
        params = [*self.params, lo, hi]
        for flt in self.filters:
            condition, more = flt.sql(self.rid, self.lo, self.hi, self.keys)
            sql, params = f"{sql} AND {condition}", params + more
        return sql, params

    def rids_sql(self, lo: int, hi: int, limit: int | None = None) -> tuple[str, list]:
        """Matching rids in [lo, hi], newest first (of the newest ``visit_cap`` driver rows, if set)."""
        if self.visit_cap is not None and self.filters:
            inner = f"SELECT {self.rid} AS rid {self.source} AND {self.rid} BETWEEN ? AND ? ORDER BY {self.rid} DESC LIMIT ?"
            params = [*self.params, lo, hi, self.visit_cap]
            conditions = []
            for flt in self.filters:
                condition, more = flt.sql("x.rid", self.lo, self.hi, self.keys)
                conditions, params = [*conditions, condition], params + more
            sql = f"SELECT rid FROM ({inner}) x WHERE {' AND '.join(conditions)} ORDER BY rid DESC"
        else:
            where, params = self.where(lo, hi)
            sql = f"SELECT {self.rid} AS rid {where} ORDER BY {self.rid} DESC"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return sql, params

    def probing(self, probe: Callable[[KeyFilter], bool] = lambda _flt: True) -> Plan:
        """The same plan with the filters ``probe`` picks looked up row by row (default: all): for a
        walk that visits few driver rows (one millisecond's group, a page of a result that is a
        large share of the driver), where building a large set in memory costs more than the walk."""
        if all(flt.probe or not probe(flt) for flt in self.filters) and self.visit_cap is None:
            return self
        filters = [KeyFilter(flt.keys, flt.probe or probe(flt), flt.rows) for flt in self.filters]
        return self._but(filters=filters, visit_cap=None, fallback=None)

    def for_page(self, total: int, limit: int) -> Plan:
        """The plan of the page walk once the exact total is known.

        The walk stops after ``limit`` matches, visiting about ``limit * driver_rows / total``
        driver rows; probing each costs ~1.3 us, loading a large set ~0.26 us a row of the set
        (see _probe_large_sets). Measured at 30k messages for a keyword AND a department tree
        (10k matches, 21k-row set): page walk 9 ms loaded, 2.5 ms probed; the gap grows with the
        set. Without a driver count (a keyword too common to count while planning) the walk could
        visit far more rows than any estimate, so it is capped: the newest ``PAGE_VISITS * limit``
        driver rows are probed, and only if fewer than ``limit`` of them pass (a filter keeping
        under ~1/PAGE_VISITS of the matches, or the last page) is the loaded plan walked as before.
        Measured at 1M: a word in 286k messages AND a department tree of 603k, total 200k:
        page walk 258 ms loaded, ~2 ms capped.
        """
        if not total:
            return self
        if self.driver_rows is None:
            if not self.filters:
                return self
            return self.probing()._but(visit_cap=PAGE_VISITS * limit, fallback=self)
        visits = limit * self.driver_rows / total
        return self.probing(lambda flt: flt.rows is not None and visits * PROBE_COST_RATIO < flt.rows)

    def count_sql(self) -> tuple[str, list]:
        where, params = self.where(self.lo, self.hi)
        return f"SELECT count(*) {where}", params


def _set_size(conn: sqlite3.Connection, table: str, keys: list[str], lo: int, hi: int, cap: int = LARGE_SET + 1) -> int:
    """Rows of the key set in the range, counted up to ``cap`` (index only: ~0.05 us a row)."""
    marks = ",".join("?" * len(keys))
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE key IN ({marks}) AND rid BETWEEN ? AND ? LIMIT ?)"
    return conn.execute(sql, [*keys, lo, hi, cap]).fetchone()[0]


def _key_sets(criteria: Criteria, department: bool = True) -> list[list[str]]:
    """``department``: False when the department is part of the MATCH instead (``_match``)."""
    sets = [[key(MAILBOX, m) for m in criteria.mailboxes]] if criteria.mailboxes else []
    if criteria.sender:
        sets.append([address_key(SENDER, SENDER_DOMAIN, criteria.sender)])
    if criteria.recipient:
        sets.append([address_key(RECIPIENT, RECIPIENT_DOMAIN, criteria.recipient)])
    if criteria.department and department:
        sets.append([key(_department_kind(criteria), criteria.department)])
    return sets


def _department_kind(criteria: Criteria) -> str:
    return DEPARTMENT_PATH if criteria.include_subdepartments else DEPARTMENT


def _match(criteria: Criteria, query: Node) -> str:
    """The MATCH of a keyword search: the keyword's expression, AND the department's token of the
    ``keys`` column when a department is asked for (fts_text.py). FTS5 then intersects the two
    doclists in rowid order, where checking each keyword match against the department's rows
    built a set of up to ~490k rows per statement (see the module docstring). The token is
    quoted like any term; it needs no column filter (no keyword token can equal one)."""
    match = fts_expression(query, criteria.scope)
    if not criteria.department:
        return match
    return f'({match}) AND "{key_token(_department_kind(criteria), criteria.department)}"'


def _fts_size(conn: sqlite3.Connection, match: str, lo: int, hi: int, cap: int) -> int:
    sql = "SELECT count(*) FROM (SELECT 1 FROM message_text WHERE message_text MATCH ? AND rowid BETWEEN ? AND ? LIMIT ?)"
    return conn.execute(sql, [match, lo, hi, cap]).fetchone()[0]


def _probe_large_sets(conn: sqlite3.Connection, result: Plan, match: str) -> None:
    """Probe the large key sets when the keyword matches fewer than PROBE_RATIO of their rows.

    Loading a set costs ~0.26 us a row once per statement; probing costs ~1.3 us per keyword
    match (measured at 1M messages: a 311k-row department AND a word in 9.6k messages: 80 ms
    loaded, 19 ms probed; AND a word in 251k messages: 275 ms either way).
    """
    large = [flt for flt in result.filters if _set_size(conn, result.keys, flt.keys, result.lo, result.hi) > LARGE_SET]
    if not large:
        return
    matches = _fts_size(conn, match, result.lo, result.hi, PROBE_MAX_MATCHES)
    if matches >= PROBE_MAX_MATCHES:
        result.count_first = True
        return  # a word this common: loading the sets once is cheaper
    result.driver_rows = matches
    enough = int(matches / PROBE_RATIO) + 1  # set sizes only need counting up to here
    for flt in large:
        size = _set_size(conn, result.keys, flt.keys, result.lo, result.hi, cap=enough)
        flt.probe = size >= enough
        flt.rows = None if flt.probe else size  # counted below its cap: exact
    result.count_first = any(not flt.probe for flt in large)


def plan(criteria: Criteria | None, conn: sqlite3.Connection) -> Plan:
    """Walk the keyword match if any, else the smallest key set; check the other sets.

    A set is checked by loading it once per statement (``IN``) when it is small, or by looking
    each walked row up in the index (``EXISTS``, ~1-2 us a row) when the walk is the smaller side.
    Planning counts index entries only (a 311k-row department: ~17 ms), never a whole doclist.
    """
    table = keys_table(conn)
    if criteria is None:
        return Plan(*FULL_RANGE, keys=table)
    lo, hi = rid_range(criteria.start, criteria.end)
    if criteria.query is not None:
        match = _match(criteria, criteria.query)
        result = Plan(lo, hi, filters=[KeyFilter(keys) for keys in _key_sets(criteria, department=False)], keys=table)
        result.source, result.rid, result.params = "FROM message_text d WHERE d.message_text MATCH ?", "d.rowid", [match]
        _probe_large_sets(conn, result, match)
        return result
    sized = sorted(((_set_size(conn, table, keys, lo, hi), keys) for keys in _key_sets(criteria)), key=lambda s: s[0])
    result = Plan(lo, hi, filters=[KeyFilter(keys) for _, keys in sized], keys=table)
    if result.filters:  # walk the smallest set, look the others up row by row
        keys = result.filters.pop(0).keys
        for flt in result.filters:
            flt.probe = True
        if len(keys) == 1:
            result.source, result.params = f"FROM {table} d WHERE d.key = ?", keys
        else:
            marks = ",".join("?" * len(keys))
            result.source = f"FROM messages d WHERE d.rid IN (SELECT rid FROM {table} WHERE key IN ({marks}) AND rid BETWEEN ? AND ?)"
            result.params = [*keys, lo, hi]
    return result
