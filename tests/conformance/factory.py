"""Small builders for conformance test data: messages with matching raw bytes, stores, criteria.

``DATASET`` is the shared search fixture: eight messages one day apart (March 2024), so the
expected result of a search is written as a list of ids newest first.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from server.model import Attachment, Message, department_ancestors
from server.query.criteria import Criteria, parse_criteria
from server.store import Store

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
MONTH = {"from": "2024-03-01", "to": "2024-03-31"}
_serial = itertools.count(1)


def corp(name: str) -> str:
    return f"{name}@corp.example"


def raw_message(subject: str, body: str, message_id: str) -> bytes:
    return (f"Message-ID: <{message_id}>\r\nSubject: {subject}\r\n\r\n{body}\r\n").encode()


def make(
    id: str | None = None,
    *,
    date: datetime = T0,
    subject: str = "",
    body: str = "",
    sender: str = "",
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    mailboxes: Sequence[str] = (),
    departments: Sequence[str] = (),
    attachments: Sequence[str] = (),
    raw: bytes | None = None,
    **fields: Any,
) -> tuple[Message, bytes]:
    """A message and its raw bytes; recipients, department_paths and sha256 are derived."""
    id = id or f"msg-{next(_serial):05d}"
    raw = raw if raw is not None else raw_message(subject, body, id)
    message = Message(
        id=id, sha256=hashlib.sha256(raw).hexdigest(), date=date, archived_at=date + timedelta(minutes=1),
        size=len(raw), message_id=f"<{id}@test>", subject=subject, sender=sender, to=list(to), cc=list(cc),
        bcc=list(bcc), recipients=list(dict.fromkeys([*to, *cc, *bcc])), body_text=body,
        attachment_names=list(attachments),
        attachments=[Attachment(name=n, type="application/octet-stream", size=10, sha256="0" * 64) for n in attachments],
        mailboxes=list(mailboxes), departments=list(departments),
        department_paths=sorted({p for d in departments for p in department_ancestors(d)}), **fields,
    )  # fmt: skip
    return message, raw


def put(store: Store, items: Iterable[tuple[Message, bytes]]) -> list[str]:
    """Store and make searchable; returns the statuses."""
    results = store.put_messages(list(items))
    store.refresh()
    return [r.status for r in results]


def crit(**params: Any) -> Criteria:
    """Criteria over March 2024 unless from/to are given; keyword args use the flat names."""
    merged = {**MONTH, **{k.rstrip("_"): v for k, v in params.items()}}
    tz = merged.pop("tz", "UTC")
    return parse_criteria(merged, tz=tz)


def search_ids(store: Store, limit: int = 1000, **params: Any) -> list[str]:
    return [m.id for m in store.search(crit(**params), limit=limit).results]


def all_pages(store: Store, criteria: Criteria, limit: int) -> tuple[list[str], set[int]]:
    """Every id by following next_cursor; also the totals seen on each page."""
    ids, totals, cursor = [], set(), None
    while True:
        page = store.search(criteria, limit=limit, cursor=cursor)
        ids += [m.id for m in page.results]
        totals.add(page.total)
        if page.next_cursor is None:
            return ids, totals
        cursor = page.next_cursor


def day(n: int) -> datetime:
    """Day ``n`` (1-based) of the dataset."""
    return T0 + timedelta(days=n - 1)


ALICE, BOB, CAROL, OPS = corp("alice"), corp("bob"), corp("carol"), corp("ops")
LI, TANAKA, AUDIT = corp("li.wei"), corp("tanaka"), corp("audit")
DATASET: list[tuple[Message, bytes]] = [
    make("budget-q", date=day(1), subject="Quarterly budget review", body="Please review the budget numbers before Friday.",
         attachments=["Budget 2024.xlsx"], sender=ALICE, to=[BOB], mailboxes=[ALICE, BOB],
         departments=["/Sales/East", "/Sales/West"]),
    make("zh-contract", date=day(2), subject="合同审批", body="请审批这份采购合同书，谢谢。", attachments=["合同草案.docx"],
         sender=LI, to=["zhang@partner.cn"], mailboxes=[LI], departments=["/Sales/East/Shanghai"]),
    make("ja-meeting", date=day(3), subject="会議の議事録", body="明日の会議は東京本社で行います。", sender=TANAKA, to=[ALICE],
         mailboxes=[TANAKA, ALICE], departments=["/Engineering/Tokyo", "/Sales/East"]),
    make("budget-done", date=day(4), subject="Re: numbers", body="The review of the budget is done. Budget approved.",
         sender=BOB, to=[CAROL], cc=["dave@partner.cn"], mailboxes=[BOB, CAROL], departments=["/Sales/West", "/Engineering"]),
    make("attach-only", date=day(5), subject="Files", body="see attached", attachments=["budget review.pdf", "notes.txt"],
         sender=CAROL, to=[OPS], mailboxes=[CAROL, OPS], departments=["/Engineering", "/Engineering/Ops"]),
    make("outage", date=day(6), subject="URGENT Server Outage", body="The SERVER is down since 03:00.", sender=OPS,
         to=[ALICE], bcc=[AUDIT], mailboxes=[OPS, ALICE, AUDIT], departments=["/Engineering/Ops", "/Sales/East", "/Legal"]),
    make("reversed", date=day(7), subject="budget quarterly", body="quarterly numbers then budget",
         sender="partner@external.com", to=[BOB], mailboxes=[BOB], departments=["/Sales/West"]),
    make("external", date=day(8), subject="Invitation", body="Join our webinar about e-mail archiving",
         sender="news@external.com", to=[LI], mailboxes=[LI], departments=["/Sales/East/Shanghai"]),
]  # fmt: skip
NEWEST_FIRST = [m.id for m, _ in reversed(DATASET)]


def newest_first(*ids: str) -> list[str]:
    """The given dataset ids in search order (the dataset is one message per day)."""
    return [i for i in NEWEST_FIRST if i in ids]
