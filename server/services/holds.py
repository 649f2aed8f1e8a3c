"""Legal holds: named, reasoned holds by search criteria that keep matching mail out of the purge.

A hold is a document (kind ``legal_hold``) with the criteria it was placed with. Its messages
carry the hold's id in ``Message.legal_holds``; the store's expiry scan skips any message with a
hold, so a marked message can never be purged.

Which messages are marked, and when (the issue lets us choose between ingestion and purge time):
- when the hold is placed, every message matching it is marked at once (the console shows them
  held, ``matched`` is right away what the purge will spare);
- *later arrivals* are marked at purge time: ``apply_active`` re-runs every active hold's search
  over everything at or below the store's stable watermark before the purge scans for expired mail,
  and the purge never looks above that watermark. A message archived while a hold is active is
  therefore marked before the purge can see it, with the backend's own search semantics (keywords
  match exactly as in a search), and ingestion (the SMTP hot path, imports) stays untouched.
  Imported old mail that is expired on arrival is covered the same way.
Releasing removes the id from the messages; a release interrupted half-way is finished by the next
``apply_active`` (the hold document says ``unmarking``), so a released hold never lingers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from server.archiving import archive_timezone
from server.audit.operations import Op
from server.model import format_time, now_utc
from server.query.criteria import Criteria, parse_criteria
from server.services.actor import ARCHIVE_READERS, Actor
from server.services.errors import Conflict, Forbidden, InvalidInput, NotFound

if TYPE_CHECKING:
    from server.services.context import Services

KIND = "legal_hold"
COUNTER = "legal_hold_ids"
CRITERIA_KEYS = ("from", "to", "mailbox", "sender", "recipient", "keyword", "scope", "department",
                 "include_subdepartments")  # fmt: skip
SELECTING = ("mailbox", "sender", "recipient", "keyword", "department", "from", "to")
EARLIEST, LATEST = "0001-01-01", "9999-12-31"  # an open end of a hold's time range
MAX_NAME, MAX_REASON = 200, 2000
BATCH = 500


@dataclass
class Hold:
    id: str
    name: str
    reason: str
    criteria: dict[str, str]  # the flat criteria as understood (UTC ISO bounds), re-parsed when applied
    status: str  # "active" | "unmarking" (released, marks being removed) | "released"
    placed_by: str
    placed_at: str
    released_by: str | None = None
    released_at: str | None = None
    marked: int = 0  # messages marked by the last application
    matched: int | None = None  # messages matching now (filled in by ``list``)

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Hold:
        fields = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc and k != "matched"}
        return cls(**fields)


class Holds:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.store = svc.store

    # --- reads ------------------------------------------------------------------------------
    def list(self, actor: Actor, *, counts: bool = True) -> list[Hold]:
        """Every hold, newest first, with how many archived messages match it now."""
        self._may(actor)
        holds = [Hold.from_doc(doc) for _, doc in self.store.list_docs(KIND)]
        holds.sort(key=lambda h: (h.placed_at, _number(h.id)), reverse=True)
        if counts:
            for hold in holds:
                hold.matched = self.store.count(_criteria(hold.criteria)) if hold.active else None
        return holds

    def get(self, actor: Actor, hold_id: str) -> Hold:
        self._may(actor)
        doc = self.store.get_doc(KIND, str(hold_id))
        if doc is None:
            raise NotFound(f"no legal hold {hold_id!r}")
        return Hold.from_doc(doc)

    def active(self) -> list[Hold]:
        return [h for h in (Hold.from_doc(d) for _, d in self.store.list_docs(KIND)) if h.active]

    # --- changes (audited) ------------------------------------------------------------------
    def place(self, actor: Actor, name: str, reason: str, params: Mapping[str, Any]) -> Hold:
        """Place a hold and mark every message matching it now; later arrivals by ``apply_active``."""
        asked = {"name": name, "reason": reason, "criteria": dict(params) if isinstance(params, Mapping) else params}
        with self.svc.audited(actor, Op.LEGAL_HOLD, "", details={"action": "place"}, asked=asked) as entry:
            self._may(actor)
            name, reason = _text(name, "name", MAX_NAME), _text(reason, "reason", MAX_REASON)
            criteria = self.parse(params)
            hold_id = f"hold-{self.store.incr_counter(COUNTER)}"
            hold = Hold(id=hold_id, name=name, reason=reason, criteria=criteria.as_params(), status="active",
                        placed_by=actor.name, placed_at=format_time(now_utc()))  # fmt: skip
            entry.done(hold_id, name=name, reason=reason, criteria=hold.criteria)
            self.store.put_doc(KIND, hold_id, hold.to_dict(), if_version=0)
        hold.marked = self._mark(hold, on=True)
        self._save(hold)
        return hold

    def release(self, actor: Actor, hold_id: str) -> Hold:
        """Release a hold: its messages may be purged again once their own retention has ended."""
        with self.svc.audited(actor, Op.LEGAL_HOLD, str(hold_id), details={"action": "release"}) as entry:
            self._may(actor)
            hold = self.get(actor, hold_id)
            if not hold.active:
                raise Conflict(f"legal hold {hold.id} was released already ({hold.released_at} by {hold.released_by})")
            entry.done(name=hold.name, criteria=hold.criteria)
            hold.status, hold.released_by, hold.released_at = "unmarking", actor.name, format_time(now_utc())
            self._save(hold)
        self._finish_release(hold)
        return hold

    # --- used by the purge ------------------------------------------------------------------
    def apply_active(self) -> dict[str, int]:
        """Mark the current matches of every active hold (later arrivals included) and finish
        interrupted releases; ``{hold id: messages newly marked}``. The purge calls this first."""
        self.store.refresh()
        newly: dict[str, int] = {}
        for _, doc in self.store.list_docs(KIND):
            hold = Hold.from_doc(doc)
            if hold.status == "unmarking":
                self._finish_release(hold)
            elif hold.active:
                newly[hold.id] = self._mark(hold, on=True)
        self.store.refresh()
        return newly

    def held_ids(self) -> set[str]:
        """Ids every active hold matches now, without marking anything (what a dry run spares)."""
        return {m.id for hold in self.active() for m in self.store.scan(_criteria(hold.criteria), batch_size=BATCH)}

    def parse(self, params: Mapping[str, Any]) -> Criteria:
        """A hold's criteria: the search criteria, with an open time range allowed (``from``/``to``
        default to the first and last representable day); at least one criterion is required."""
        if not isinstance(params, Mapping):
            raise InvalidInput("the hold's criteria must be an object of search criteria")
        unknown = sorted(set(params) - set(CRITERIA_KEYS))
        if unknown:
            raise InvalidInput(f"unknown criterion {unknown[0]!r}: use {', '.join(CRITERIA_KEYS)}")
        flat = {k: (v if isinstance(v, bool) else str(v).strip()) for k, v in params.items() if v not in (None, "")}
        if not any(flat.get(k) for k in SELECTING):
            raise InvalidInput("a hold needs at least one criterion: mailbox, department, time range, keyword, sender or recipient")
        tz = archive_timezone(self.store, self.svc.config)
        return parse_criteria({**flat, "from": flat.get("from") or EARLIEST, "to": flat.get("to") or LATEST}, tz)

    # --- internals ----------------------------------------------------------------------------
    def _mark(self, hold: Hold, *, on: bool) -> int:
        changed = 0
        for ids in _id_batches(self.store.scan(_criteria(hold.criteria), batch_size=BATCH)):
            changed += self.store.set_legal_hold(ids, hold.id, on)
        return changed

    def _finish_release(self, hold: Hold) -> None:
        self._mark(hold, on=False)
        self.store.refresh()
        hold.status = "released"
        self._save(hold)

    def _save(self, hold: Hold) -> None:
        self.store.put_doc(KIND, hold.id, hold.to_dict())

    @staticmethod
    def _may(actor: Actor) -> None:
        if not actor.may(*ARCHIVE_READERS):
            raise Forbidden("only an archive administrator manages legal holds")


def _criteria(params: Mapping[str, str]) -> Criteria:
    return parse_criteria(params, "UTC")  # stored bounds are UTC ISO datetimes


def _text(value: Any, name: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(f"a legal hold needs a {name}")
    if len(text) > limit:
        raise InvalidInput(f"the hold's {name} is longer than {limit} characters")
    return text


def _number(hold_id: str) -> int:
    tail = hold_id.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


def _id_batches(messages: Iterator[Any]) -> Iterator[list[str]]:
    batch: list[str] = []
    for message in messages:
        batch.append(message.id)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
