"""Criteria to an Elasticsearch query, with the same meaning as the SQLite backend.

Filters only (no scoring): date range, terms for mailboxes, sender, recipient, department.
Keyword: the tree of server.query.keywords, each term a ``match_phrase`` (or ``prefix``) on any of
the scoped pre-tokenized fields (terms may match different fields); the fields and the terms both
come from server.query.tokenize, so the match is the same as in SQLite.
"""

from __future__ import annotations

from typing import Any

from server.model import format_time
from server.query.criteria import Criteria
from server.query.keywords import And, Node, Not, Or, Term
from server.store.elasticsearch.documents import TOKEN_FIELDS

SORT = [{"date": {"order": "desc"}}, {"id": {"order": "desc"}}]


def _term(term: Term, scope: frozenset[str]) -> dict[str, Any]:
    """One word or phrase in any scoped field. A prefix is a ``prefix`` query on the one token: exact,
    like FTS5's ``"deliv"*`` (``match_phrase_prefix`` would stop at ``max_expansions`` terms)."""
    if term.prefix:
        should = [{"prefix": {TOKEN_FIELDS[s]: term.tokens[0]}} for s in sorted(scope)]
    else:
        should = [{"match_phrase": {TOKEN_FIELDS[s]: " ".join(term.tokens)}} for s in sorted(scope)]
    return should[0] if len(should) == 1 else {"bool": {"should": should, "minimum_should_match": 1}}


def keyword_query(node: Node, scope: frozenset[str]) -> dict[str, Any]:
    """The keyword tree as filters (no scoring): And -> filter + must_not, Or -> should."""
    if isinstance(node, Term):
        return _term(node, scope)
    if isinstance(node, Or):
        return {"bool": {"should": [keyword_query(c, scope) for c in node.children], "minimum_should_match": 1}}
    if not isinstance(node, And):  # a Not is only ever a child of an And (keywords.py guarantees)
        raise ValueError(f"no query for {node!r} on its own")
    clauses: dict[str, list[dict[str, Any]]] = {"filter": [], "must_not": []}
    for child in node.children:
        if isinstance(child, Not):
            clauses["must_not"].append(keyword_query(child.child, scope))
        else:
            clauses["filter"].append(keyword_query(child, scope))
    return {"bool": {k: v for k, v in clauses.items() if v}}


def _address(field: str, value: str) -> dict[str, Any]:
    """A full address is a term; ``@example.com`` a suffix wildcard on the same keyword field. The
    wildcard walks the field's distinct addresses (its term dictionary), not the messages, and works
    on every index generation without a new field; the domain has no wildcard characters (criteria.py
    allows letters, digits, '-', '_' and dots only)."""
    if value.startswith("@"):
        return {"wildcard": {field: {"value": f"*{value}"}}}
    return {"term": {field: value}}


def build_query(criteria: Criteria | None) -> dict[str, Any]:
    if criteria is None:
        return {"match_all": {}}
    filters: list[dict[str, Any]] = [
        {"range": {"date": {"gte": format_time(criteria.start), "lte": format_time(criteria.end)}}}
    ]
    if criteria.mailboxes:
        filters.append({"terms": {"mailboxes": list(criteria.mailboxes)}})
    if criteria.sender:
        filters.append(_address("sender", criteria.sender))
    if criteria.recipient:
        filters.append(_address("recipients", criteria.recipient))
    if criteria.department:
        field = "department_paths" if criteria.include_subdepartments else "departments"
        filters.append({"term": {field: criteria.department}})
    if criteria.query is not None:
        filters.append(keyword_query(criteria.query, criteria.scope))
    return {"bool": {"filter": filters}}
