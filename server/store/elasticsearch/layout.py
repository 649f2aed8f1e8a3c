"""The versioned index layout behind aliases, and its migration (copy, then one atomic alias swap).

Every index is reached through an alias named for what it holds; the index behind it carries
the version of its mapping (``mappings/<kind>-v<N>.json``):

| alias (what the code uses) | index behind it |
|---|---|
| ``<prefix>-messages`` (read alias) | ``<prefix>-messages-v3-YYYY.MM``, one per month, made from the template |
| ``<prefix>-raw`` / ``-directory`` / ``-docs`` / ``-audit`` | ``<prefix>-raw-v1`` / ``-directory-v1`` / ``-docs-v2`` / ``-audit-v2`` |

Reads, GETs and single writes go through the aliases. Bulk writes name the index itself (the month's
index, ``versioned(kind)``): a bulk item's outcome names the concrete index it landed in, and
that is how outcomes are matched back to their actions (bulk.py).

A mapping change is then: create the new version's indices, copy, and move the aliases in one
``update_aliases`` call, so every reader and writer switches at the same instant and nobody ever
sees half of an archive. Releases before the arrival sequence used the alias names themselves as
concrete index names (and ``<prefix>-messages-YYYY.MM`` months); ``remove_index`` in the same
alias update deletes such an index as its name becomes the alias.

One process migrates: it takes ``<prefix>-migration`` (index creation is atomic, so exactly one
creator wins); the others wait for the lock to go. The source indices are write-blocked first,
so a process of the previous release still running cannot write into an index being copied (its
writes fail and are retried by the SMTP spool instead of being lost). Counts are compared before
the swap; on any failure nothing is switched, the sources are unblocked and the error says what
happened. Messages copied from the first layout get their ``archive_seq`` in archiving order
(``archived_at``, then id), and the sequence document starts after the last one.

Message versions: v1 the first layout; v2 added ``archive_seq``, ``received_at`` and
``legal_holds``; v3 added ``@timestamp`` (Kibana's time field, documents.timestamp), which the
copy sets on every message it moves to v3.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from server.store.common.audit_records import value_text
from server.store.elasticsearch.bulk import Action, bulk
from server.store.elasticsearch.connection import ERRORS, load_mapping
from server.store.elasticsearch.documents import TIMESTAMP, timestamp
from server.store.elasticsearch.sequence import ArchiveSequence
from server.store.protocol import StoreError

MESSAGES_VERSION = 3
FIXED_VERSIONS = {"raw": 1, "directory": 1, "docs": 2, "audit": 2}
LOCK_WAIT_SECONDS = 900
COPY_PAGE = 1000
COPY_TIMEOUT = 300  # seconds one copy request may take (a page of large raw documents, a refresh)
SCROLL_KEEP = "10m"
log = logging.getLogger(__name__)


def _audit_v2(source: dict[str, Any]) -> dict[str, Any]:
    """audit-v1 -> v2: the values-only keyword text (``value_text``) the log query matches."""
    return {**source, "value_text": value_text(source.get("target", ""), source.get("details"))}


COPY_TRANSFORMS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"audit": _audit_v2}


class Indices:
    """Alias and index names for one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.messages = f"{prefix}-messages"  # the read alias over every month
        self.raw = f"{prefix}-raw"
        self.directory = f"{prefix}-directory"
        self.docs = f"{prefix}-docs"
        self.audit = f"{prefix}-audit"
        self.lock = f"{prefix}-migration"
        self._month = re.compile(rf"^{re.escape(self.messages)}-(?:v(\d+)-)?(\d{{4}})\.(\d{{2}})$")

    def month(self, year: int, month: int, version: int = MESSAGES_VERSION) -> str:
        return f"{self.messages}-v{version}-{year:04d}.{month:02d}"

    def parse_month(self, index: str) -> tuple[int, int, int] | None:
        """(version, year, month) of a monthly index name (version 1: the unversioned first layout)."""
        found = self._month.match(index)
        return (int(found[1] or 1), int(found[2]), int(found[3])) if found else None

    def alias(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def versioned(self, kind: str) -> str:
        return f"{self.prefix}-{kind}-v{FIXED_VERSIONS[kind]}"

    @property
    def template(self) -> str:
        return f"{self.prefix}-messages"

    @property
    def pattern(self) -> str:
        return f"{self.messages}-v{MESSAGES_VERSION}-*"


@dataclass
class _Plan:
    """What stands between the cluster and the current layout."""

    fixed: dict[str, str | None] = field(default_factory=dict)  # kind -> index answering its name now (None: none)
    months: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # every monthly index -> parsed name

    def stale_fixed(self, names: Indices) -> dict[str, str]:
        return {k: s for k, s in self.fixed.items() if s is not None and s != names.versioned(k)}

    def stale_months(self) -> dict[str, tuple[int, int, int]]:
        return {i: p for i, p in self.months.items() if p[0] != MESSAGES_VERSION}

    def current(self, names: Indices) -> bool:
        return not self.stale_fixed(names) and not self.stale_months()


def _plan(es: Elasticsearch, names: Indices) -> _Plan:
    try:
        indices = es.indices.get_alias(index=f"{names.prefix}-*")
    except ApiError as exc:
        if getattr(exc.meta, "status", None) == 404:
            indices = {}
        else:
            raise
    plan = _Plan()
    for kind in FIXED_VERSIONS:
        alias = names.alias(kind)
        holders = [i for i, body in indices.items() if alias in (body.get("aliases") or {})]
        plan.fixed[kind] = alias if alias in indices else (holders[0] if holders else None)
    plan.months = {i: p for i in indices if (p := names.parse_month(i)) is not None}
    return plan


def _template(names: Indices, *, with_alias: bool) -> dict[str, Any]:
    """The messages template as sent, with a digest of itself in ``_meta``: a later open compares the
    digest instead of writing the template again (see ``_ensure_template``)."""
    template = load_mapping(f"messages-v{MESSAGES_VERSION}.json")
    template["template"]["aliases"] = {names.messages: {}} if with_alias else {}
    body = json.dumps([names.pattern, template], sort_keys=True, ensure_ascii=False).encode()
    template["_meta"] = {"mailarchive_digest": hashlib.sha256(body).hexdigest()}
    return template


def _ensure_template(es: Elasticsearch, names: Indices) -> None:
    """Write the messages template only when it is missing or differs from this release's.

    Every process opens the store, a read-only ``mailarchive search`` too: an unconditional PUT
    was a cluster-state update per open, and it needed the right to manage index templates just
    to read. A GET is a read; the digest covers the pattern, mapping, settings and read alias, so a
    template left without its alias by an interrupted migration is written again."""
    template = _template(names, with_alias=True)
    found = es.options(ignore_status=404).indices.get_index_template(name=names.template).body
    current = [t["index_template"] for t in found.get("index_templates", []) if t.get("name") == names.template]
    if current and (current[0].get("_meta") or {}).get("mailarchive_digest") == template["_meta"]["mailarchive_digest"]:
        return
    es.indices.put_index_template(name=names.template, index_patterns=[names.pattern], **template)


def ensure_layout(es: Elasticsearch, names: Indices) -> None:
    """Bring the cluster to the current layout: create what is missing, migrate what is older."""
    try:
        plan = _plan(es, names)
        if not plan.current(names):
            _migrate_once(es, names)
            plan = _plan(es, names)
        _ensure_template(es, names)
        for kind, index in plan.fixed.items():
            if index is None:
                _create(es, names.versioned(kind), kind, alias=names.alias(kind))
    except ERRORS as exc:
        raise StoreError(f"cannot prepare the Elasticsearch indices {names.prefix}-*: {exc}") from exc


def _create(es: Elasticsearch, index: str, kind: str, *, alias: str | None = None) -> None:
    body = load_mapping(f"{kind}-v{FIXED_VERSIONS[kind]}.json")
    if alias:
        body["aliases"] = {alias: {}}
    try:
        es.indices.create(index=index, **body)
    except ApiError as exc:
        if "resource_already_exists" not in str(exc):
            raise


def _migrate_once(es: Elasticsearch, names: Indices) -> None:
    """Migrate under the lock, or wait for the process that holds it."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            es.indices.create(index=names.lock, mappings={"dynamic": False})
            break
        except ApiError as exc:
            if "resource_already_exists" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise StoreError(f"the Elasticsearch indices {names.prefix}-* are being migrated by another process, or a "
                             f"migration was interrupted: if no mailarchive process is running, delete the index "
                             f"{names.lock} and start again")  # fmt: skip
        time.sleep(1)
        if _plan(es, names).current(names):
            return
    try:
        plan = _plan(es, names)  # read again: the previous holder may have finished meanwhile
        if not plan.current(names):
            Migration(es, names, plan).run()
    finally:
        es.options(ignore_status=404).indices.delete(index=names.lock)


def _current_message(doc: dict[str, Any]) -> dict[str, Any]:
    """A message document of an older version as the current mapping has it (v3: ``@timestamp``)."""
    return {**doc, TIMESTAMP: timestamp(doc)}


class Migration:
    """One run from ``plan`` to the current layout (see the module docstring for the steps)."""

    def __init__(self, es: Elasticsearch, names: Indices, plan: _Plan) -> None:
        self.es, self.names, self.plan = es, names, plan
        self.fixed = plan.stale_fixed(names)
        self.months = plan.stale_months()
        self.sources = [*self.fixed.values(), *self.months]
        self.long = es.options(request_timeout=COPY_TIMEOUT)
        self.numbered: int | None = None  # messages numbered by the copy (from the first layout)

    def run(self) -> None:
        log.info("migrating Elasticsearch indices %s to the current layout: %s", self.names.prefix, ", ".join(self.sources))
        self._block(True)
        try:
            targets = self._copy_fixed()
            if self.months:
                # the template must not add the read alias before the swap (search would see both copies)
                self.es.indices.put_index_template(name=self.names.template, index_patterns=[self.names.pattern],
                                                   **_template(self.names, with_alias=False))  # fmt: skip
                targets.update(self._copy_months())
            self.long.indices.refresh(index=",".join([*self.sources, *targets.values()]))
            for source, target in targets.items():
                self._same_count(source, target)
            if self.numbered is not None:  # after the counts: the sequence document is one more
                ArchiveSequence(self.es, self.names.versioned("docs")).start_after(self.numbered)
            self.es.indices.update_aliases(actions=self._swap(targets))
        except BaseException:
            self._block(False)
            raise
        log.info("migration of %s done", self.names.prefix)

    def _block(self, on: bool) -> None:
        for index in self.sources:
            self.es.options(ignore_status=404).indices.put_settings(index=index, settings={"index.blocks.write": on})

    def _copy_fixed(self) -> dict[str, str]:
        targets = {}
        for kind, source in self.fixed.items():
            target = self.names.versioned(kind)
            _create(self.es, target, kind)
            self._copy(source, target, COPY_TRANSFORMS.get(kind))
            targets[source] = target
        return targets

    def _copy_months(self) -> dict[str, str]:
        targets = {source: self.names.month(year, month) for source, (_, year, month) in self.months.items()}
        for target in set(targets.values()):
            if not self.es.indices.exists(index=target):
                self.es.indices.create(index=target)  # mapping and settings from the template
        if any(version == 1 for version, _, _ in self.months.values()):
            self._number_and_copy(targets)
        else:
            for source, target in targets.items():
                self._copy(source, target, _current_message)
        return targets

    def _copy(self, source: str, target: str, transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None
              ) -> None:  # fmt: skip
        """Every document of ``source`` into ``target`` under the same ``_id``: a scroll in index
        order and bulk writes. Not ``_reindex``: that lives in a module a minimal node may lack,
        and one request copying a whole raw index would outlast any client timeout."""
        page = self.long.search(index=source, query={"match_all": {}}, sort=["_doc"], size=COPY_PAGE, scroll=SCROLL_KEEP)
        scroll_id = page.get("_scroll_id")
        try:
            while hits := page["hits"]["hits"]:
                self._write([Action("index", {"_index": target, "_id": h["_id"]},
                                    transform(h["_source"]) if transform else h["_source"]) for h in hits], target)  # fmt: skip
                page = self.long.scroll(scroll_id=scroll_id, scroll=SCROLL_KEEP)
                scroll_id = page.get("_scroll_id", scroll_id)
        finally:
            if scroll_id:
                self.es.options(ignore_status=404).clear_scroll(scroll_id=scroll_id)

    def _write(self, actions: list[Action], target: str) -> None:
        failures = [o["error"] for o in bulk(self.long, actions) if "error" in o]
        if failures:
            raise StoreError(f"copying into {target} failed for {len(failures)} documents: {failures[0]}")

    def _number_and_copy(self, targets: dict[str, str]) -> None:
        """The first layout had no arrival sequence: number every message in archiving order."""
        seq = 0
        for hits in self._pages(list(targets)):
            actions = []
            for hit in hits:
                seq += 1
                actions.append(Action("index", {"_index": targets[hit["_index"]], "_id": hit["_id"]},
                                      _current_message({**hit["_source"], "archive_seq": seq})))  # fmt: skip
            self._write(actions, "the monthly message indices")
        self.numbered = seq
        log.info("numbered %d messages in archiving order", seq)

    def _pages(self, indices: list[str]) -> Iterator[list[dict[str, Any]]]:
        after = None
        while True:
            extra = {"search_after": after} if after else {}
            hits = self.es.search(index=",".join(indices), query={"match_all": {}}, size=COPY_PAGE,
                                  sort=[{"archived_at": "asc"}, {"id": "asc"}], **extra)["hits"]["hits"]  # fmt: skip
            if hits:
                yield hits
            if len(hits) < COPY_PAGE:
                return
            after = hits[-1]["sort"]

    def _same_count(self, source: str, target: str) -> None:
        count = self.es.count(index=source)["count"]
        copied = self.es.count(index=target)["count"]
        if count != copied:
            raise StoreError(f"migration stopped: {source} holds {count} documents, its copy {target} {copied}")

    def _swap(self, targets: dict[str, str]) -> list[dict[str, Any]]:
        """One alias update: every source index deleted, every alias on its new index. In the first
        layout the fixed indices had the aliases' names, so deleting them frees those names."""
        aliases = {**{s: self.names.alias(k) for k, s in self.fixed.items()}, **{m: self.names.messages for m in self.months}}
        actions: list[dict[str, Any]] = [{"remove_index": {"index": source}} for source in targets]
        actions += [{"add": {"index": target, "alias": aliases[source]}} for source, target in targets.items()]
        return actions
