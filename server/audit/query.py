"""Archive Log Query: validate the filters shared by the console page, the API and the CLI; page and
stream results (CSV downloads go through every matching entry without holding them in memory).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

from server.audit.chain import canonical_json, record_to_dict
from server.audit.operations import Op
from server.audit.redaction import keyword_is_shown, redacted_details
from server.csv_cells import neutralise
from server.model import format_time
from server.query.criteria import CriteriaError, parse_criteria, parse_limit
from server.store.protocol import AuditQuery, AuditRecord, Store

CSV_COLUMNS = ("seq", "time", "actor", "role", "source_ip", "operation", "target", "details", "result", "hash")
DEFAULT_LIMIT = 50
EXPORT_BATCH = 500
MAX_SEQ = 2**63  # audit seqs are 64-bit integers in both backends; a larger cursor is not one of ours


def parse_audit_query(params: Mapping[str, Any], tz: str = "UTC") -> AuditQuery:
    """Flat filters (``from``, ``to``, ``actor``, ``operation``, ``keyword``, ``limit``, ``cursor``)
    to an ``AuditQuery``; raises ``CriteriaError`` with a one-line message."""
    get = lambda key: str(params.get(key) or "").strip()  # noqa: E731
    span = parse_criteria({"from": get("from"), "to": get("to")}, tz)  # the search's time-range rules exactly
    operation = get("operation")
    if operation and operation not in {op.value for op in Op}:
        raise CriteriaError(f"unknown operation {operation!r}: use one of {', '.join(op.value for op in Op)}")
    return AuditQuery(
        start=span.start,
        end=span.end,
        actor=get("actor") or None,
        operation=operation or None,
        keyword=get("keyword") or None,
        limit=parse_limit(params.get("limit"), DEFAULT_LIMIT),
        after_seq=_cursor(get("cursor")),
    )


def _cursor(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) < MAX_SEQ:
        raise CriteriaError("'cursor' is not valid: pass the next_cursor of the previous page unchanged")
    return int(text)


def query_page(store: Store, query: AuditQuery, *, redacted: bool = False) -> dict[str, Any]:
    """The API shape: ``{"total", "results", "next_cursor"}`` (cursor: a seq, newest first).

    ``redacted``: the reader is shown redacted details, so the keyword must match only those
    (``keyword_is_shown``). The store's keyword filter (which matches the stored values) then only
    narrows the candidates: every candidate in the range is read once to count the total exactly and
    to fill the page with ``limit`` entries that match, as many as an unredacted CSV download of the
    same filters would read. Without a keyword, or for an unredacted reader, the store pages alone.
    """
    if redacted and query.keyword:
        return _shown_page(store, query)
    total, records = store.audit_query(query._replace(limit=query.limit + 1))  # one extra: is there more?
    return _page(total, records, query.limit)


def _page(total: int, records: list[AuditRecord], limit: int) -> dict[str, Any]:
    page = records[:limit]
    return {
        "total": total,
        "results": [record_to_dict(r) for r in page],
        "next_cursor": str(page[-1].seq) if len(records) > limit else None,
    }


def _shown_page(store: Store, query: AuditQuery) -> dict[str, Any]:
    total, records = 0, []
    for record in iter_matches(store, query, redacted=True):
        total += 1
        if (query.after_seq is None or record.seq < query.after_seq) and len(records) <= query.limit:
            records.append(record)  # one extra, as above: is there more?
    return _page(total, records, query.limit)


def count_matches(store: Store, query: AuditQuery, *, redacted: bool = False) -> int:
    """How many entries ``iter_matches`` yields (the CSV download's count)."""
    if redacted and query.keyword:
        return sum(1 for _ in iter_matches(store, query, redacted=True))
    return store.audit_query(query._replace(limit=0))[0]


def iter_matches(store: Store, query: AuditQuery, *, redacted: bool = False) -> Iterator[AuditRecord]:
    """Every entry matching ``query`` (its paging ignored), newest first, fetched in batches;
    ``redacted``: the keyword matched against the redacted details only (see ``query_page``)."""
    page = query._replace(limit=EXPORT_BATCH, after_seq=None)
    keyword = query.keyword if redacted else None
    while True:
        _, records = store.audit_query(page)
        for record in records:
            if keyword is None or keyword_is_shown(record.operation, record.target, record.details, keyword):
                yield record
        if len(records) < EXPORT_BATCH:
            return
        page = page._replace(after_seq=records[-1].seq)


def csv_lines(records: Iterator[AuditRecord], *, redact: bool = False) -> Iterator[str]:
    """CSV text (header first), one chunk per entry, for a streamed download.

    ``redact``: content-quoting details hidden (email administrators, ``server.audit.redaction``).
    Every cell a spreadsheet would run as a formula is neutralised (``server.csv_cells``); the BOM
    stays, since without it Excel misreads UTF-8 names, and neutralising does not depend on it.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + flush()  # BOM: spreadsheet programs then read UTF-8 (Chinese names) correctly
    for r in records:
        details = redacted_details(r.operation, r.details) if redact else r.details
        row = [r.seq, format_time(r.time), r.actor, r.role, r.source_ip, r.operation, r.target,
               canonical_json(details), r.result, r.hash]  # fmt: skip
        writer.writerow([neutralise(cell) for cell in row])
        yield flush()
