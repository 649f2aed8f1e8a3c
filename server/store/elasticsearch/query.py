"""Criteria to an Elasticsearch query, with the same meaning as the SQLite backend.

Filters only (no scoring): date range, terms for mailboxes, sender, recipient, department.
Keyword: every phrase must ``match_phrase`` one of the scoped pre-tokenized fields (phrases may
match different fields); the fields and the phrases both come from server.query.tokenize.
"""

from __future__ import annotations

from typing import Any

from server.model import format_time
from server.query.criteria import Criteria
from server.store.elasticsearch.documents import TOKEN_FIELDS

SORT = [{"date": {"order": "desc"}}, {"id": {"order": "desc"}}]


def _phrase(tokens: tuple[str, ...], scope: frozenset[str]) -> dict[str, Any]:
    text = " ".join(tokens)
    should = [{"match_phrase": {TOKEN_FIELDS[s]: text}} for s in sorted(scope)]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def build_query(criteria: Criteria | None) -> dict[str, Any]:
    if criteria is None:
        return {"match_all": {}}
    filters: list[dict[str, Any]] = [
        {"range": {"date": {"gte": format_time(criteria.start), "lte": format_time(criteria.end)}}}
    ]
    if criteria.mailboxes:
        filters.append({"terms": {"mailboxes": list(criteria.mailboxes)}})
    if criteria.sender:
        filters.append({"term": {"sender": criteria.sender}})
    if criteria.recipient:
        filters.append({"term": {"recipients": criteria.recipient}})
    if criteria.department:
        field = "department_paths" if criteria.include_subdepartments else "departments"
        filters.append({"term": {field: criteria.department}})
    filters.extend(_phrase(tokens, criteria.scope) for tokens in criteria.phrases)
    return {"bool": {"filter": filters}}
