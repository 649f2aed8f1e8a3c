"""Criteria to SQL: a time range as a rid range, plus one condition per filter.

Every filter is a set of rids in the same rid range (the FTS match, the keys of a mailbox...),
so the search is an intersection of sorted rid sets that SQLite walks newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.query.criteria import SCOPES, Criteria
from server.store.sqlite.keys import DEPARTMENT, DEPARTMENT_PATH, MAILBOX, RECIPIENT, SENDER, key, rid_range

FTS_COLUMNS = {"subject": "subject", "body": "body", "attachment": "attachment"}
_FULL_RANGE = (-(1 << 63), (1 << 63) - 1)


def fts_expression(phrases: tuple[tuple[str, ...], ...], scope: frozenset[str]) -> str:
    """FTS5 MATCH text: every phrase in at least one scoped column (phrases may use different ones).

    User tokens only ever appear inside double-quoted strings (quotes doubled), so no input can
    become an FTS5 operator, column name or prefix query.
    """
    columns = " ".join(FTS_COLUMNS[s] for s in SCOPES if s in scope)
    quoted = ('"' + " ".join(t.replace('"', '""') for t in phrase) + '"' for phrase in phrases)
    return " AND ".join(f"({{{columns}}} : {q})" for q in quoted)


@dataclass
class RidFilter:
    """``m.rid`` conditions for a criteria: ``where`` joined by AND, with its parameters."""

    lo: int
    hi: int
    where: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)

    def sql(self, alias: str = "m") -> tuple[str, list]:
        conditions = [f"{alias}.rid BETWEEN ? AND ?", *(w.replace("{rid}", f"{alias}.rid") for w in self.where)]
        return " AND ".join(conditions), [self.lo, self.hi, *self.params]


def _keys_condition(flt: RidFilter, keys: list[str]) -> None:
    marks = ",".join("?" * len(keys))
    flt.where.append(f"{{rid}} IN (SELECT rid FROM message_keys WHERE key IN ({marks}) AND rid BETWEEN ? AND ?)")
    flt.params += [*keys, flt.lo, flt.hi]


def rid_filter(criteria: Criteria | None) -> RidFilter:
    if criteria is None:
        return RidFilter(*_FULL_RANGE)
    flt = RidFilter(*rid_range(criteria.start, criteria.end))
    if criteria.phrases:
        flt.where.append(
            "{rid} IN (SELECT rowid FROM message_text WHERE message_text MATCH ? AND rowid BETWEEN ? AND ?)"
        )
        flt.params += [fts_expression(criteria.phrases, criteria.scope), flt.lo, flt.hi]
    if criteria.mailboxes:
        _keys_condition(flt, [key(MAILBOX, m) for m in criteria.mailboxes])
    if criteria.sender:
        _keys_condition(flt, [key(SENDER, criteria.sender)])
    if criteria.recipient:
        _keys_condition(flt, [key(RECIPIENT, criteria.recipient)])
    if criteria.department:
        kind = DEPARTMENT_PATH if criteria.include_subdepartments else DEPARTMENT
        _keys_condition(flt, [key(kind, criteria.department)])
    return flt
