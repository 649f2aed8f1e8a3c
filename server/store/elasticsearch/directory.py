"""The company directory in ``<prefix>-directory`` (``_id`` = lower-case address)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from server.model import Account, department_ancestors, normalize_department
from server.store.elasticsearch.bulk import Action, bulk
from server.store.elasticsearch.connection import ERRORS
from server.store.elasticsearch.layout import Indices
from server.store.protocol import StoreError

PAGE = 1000


def sorted_hits(
    es: Elasticsearch, index: str, query: dict[str, Any], sort_field: str, *, after: str | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Hits of ``query`` in ``sort_field`` order (search_after paging; the field must be unique):
    those after ``after``, at most ``limit``."""
    left = limit
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        extra = {"search_after": [after]} if after is not None else {}
        try:
            hits = es.search(index=index, query=query, sort=[{sort_field: "asc"}], size=size, **extra)["hits"]["hits"]
        except ERRORS as exc:
            raise StoreError(f"search on {index} failed: {exc}") from exc
        yield from hits
        if len(hits) < size:
            return
        after = hits[-1]["sort"][0]
        left = None if left is None else left - len(hits)


def write_all(es: Elasticsearch, actions: list[Action], what: str) -> None:
    """A bulk where any failure is an error of the whole call (directory and documents)."""
    failures = [o["error"] for o in bulk(es, actions, refresh="wait_for") if "error" in o]
    if failures:
        raise StoreError(f"{len(failures)} {what} not written: {failures[0]}")


class DirectoryMixin:
    es: Elasticsearch
    names: Indices

    def upsert_accounts(self, accounts: Iterable[Account]) -> int:
        actions = []
        for a in accounts:
            address = a.address.strip().lower()
            source = {
                "address": address,
                "name": a.name,
                "department": normalize_department(a.department),
                "status": str(a.status),
            }
            actions.append(Action("index", {"_index": self.names.versioned("directory"), "_id": address}, source))
        write_all(self.es, actions, "accounts")
        return len(actions)

    def get_accounts(self, addresses: Sequence[str]) -> dict[str, Account]:
        wanted = list(dict.fromkeys(a.strip().lower() for a in addresses))
        if not wanted:
            return {}
        try:
            docs = self.es.mget(index=self.names.directory, ids=wanted)["docs"]
        except ERRORS as exc:
            raise StoreError(f"reading accounts from {self.names.directory} failed: {exc}") from exc
        return {d["_id"]: Account(**d["_source"]) for d in docs if d.get("found")}

    def list_accounts(self, *, status: str | None = None) -> list[Account]:
        query = {"term": {"status": str(status)}} if status is not None else {"match_all": {}}
        return [Account(**h["_source"]) for h in sorted_hits(self.es, self.names.directory, query, "address")]

    def list_departments(self) -> list[str]:
        hits = sorted_hits(self.es, self.names.directory, {"match_all": {}}, "address")
        return sorted(
            {
                a
                for h in hits
                if h["_source"]["department"]
                for a in department_ancestors(h["_source"]["department"])
            }
        )
