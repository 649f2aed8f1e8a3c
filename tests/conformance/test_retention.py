"""The retention service on both backends (the real engine included): expiry boundary, holds with
later arrivals, shared blobs, a purge interrupted and resumed, a dry run, re-stamping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.audit.log import AuditLog
from server.audit.operations import Op
from server.config import Config
from server.services.actor import Actor
from server.services.context import Services
from server.services.errors import Conflict, Forbidden, InvalidInput
from server.services.retention import PurgeReport, shorten_phrase
from server.store import Store
from server.users import Role, UserService
from tests.conformance.factory import ALICE, BOB, T0, make, put

CLI = Actor.cli()
EXPIRES = T0 + timedelta(days=365)
NOW = EXPIRES + timedelta(days=1)  # the purge's clock: everything stamped EXPIRES has expired


@pytest.fixture
def svc(store: Store, config: Config) -> Services:
    return Services(config, store, AuditLog.for_config(store, config), UserService(store))


def mail(id: str, until: Any = EXPIRES, **fields: Any) -> tuple:
    return make(id, retention_until=until, received_at=T0, **fields)


def present(store: Store, *ids: str) -> list[str]:
    return [m.id for m in store.get_messages(list(ids))]


def purge_entries(store: Store) -> list:
    return [r for r in store.audit_scan() if r.operation == Op.RETENTION_PURGE]


def test_expiry_boundary_and_one_audit_entry_with_the_range(svc: Services) -> None:
    put(svc.store, [mail("gone-1", EXPIRES - timedelta(milliseconds=1)), mail("at-now", EXPIRES), mail("gone-2"),
                    mail("later", EXPIRES + timedelta(days=30)), make("no-retention")])  # fmt: skip
    report = svc.retention.purge(CLI, now=EXPIRES)
    assert report.purged == 1 and present(svc.store, "gone-1", "at-now") == ["at-now"]  # strictly before now
    report = svc.retention.purge(CLI, now=NOW, batch_size=1)
    assert report.purged == 2 and report.batches == 2
    assert present(svc.store, "at-now", "gone-2", "later", "no-retention") == ["later", "no-retention"]
    entries = purge_entries(svc.store)
    assert len(entries) == 2  # one per run, whatever the batches
    first, last = (svc.store.get_counter("x"), entries[-1].details)
    assert first == 0 and last["purged"] == 2 and last["first_id"] == "at-now" and last["last_id"] == "gone-2"
    assert last["first_seq"] < last["last_seq"] and entries[-1].target == report.run
    assert svc.retention.purged(["at-now", "gone-2", "later"]) == {"at-now", "gone-2"}  # the ledger


def test_a_hold_spares_matching_mail_and_later_arrivals_until_released(svc: Services) -> None:
    put(svc.store, [mail("alice-old", mailboxes=[ALICE]), mail("bob-old", mailboxes=[BOB])])
    hold = svc.holds.place(CLI, "Case 7", "litigation", {"mailbox": ALICE})
    assert hold.marked == 1 and svc.store.get_message("alice-old").legal_holds == [hold.id]
    put(svc.store, [mail("alice-new", mailboxes=[ALICE], subject="later arrival")])  # arrives while held
    assert svc.holds.list(CLI)[0].matched == 2
    svc.retention.purge(CLI, now=NOW)
    assert present(svc.store, "alice-old", "bob-old", "alice-new") == ["alice-old", "alice-new"]
    assert svc.store.get_message("alice-new").legal_holds == [hold.id]  # marked by the purge
    with pytest.raises(Conflict):
        svc.holds.release(CLI, hold.id) and svc.holds.release(CLI, hold.id)
    assert svc.store.get_message("alice-new").legal_holds == []
    svc.retention.purge(CLI, now=NOW)
    assert present(svc.store, "alice-old", "alice-new") == []


def test_keyword_and_time_range_holds_and_their_audit(svc: Services) -> None:
    put(svc.store, [mail("merger", subject="Project Falcon merger"), mail("lunch", subject="lunch"),
                    mail("april", subject="Falcon", date=T0 + timedelta(days=40))])  # fmt: skip
    hold = svc.holds.place(CLI, "Falcon", "regulator", {"keyword": "falcon", "from": "2024-03-01", "to": "2024-03-31"})
    svc.retention.purge(CLI, now=NOW)
    assert present(svc.store, "merger", "lunch", "april") == ["merger"]
    entries = [r for r in svc.store.audit_scan() if r.operation == Op.LEGAL_HOLD]
    assert entries[-1].target == hold.id and entries[-1].details["reason"] == "regulator"


def test_hold_input_is_checked(svc: Services) -> None:
    for name, reason, criteria, message in [("", "r", {"mailbox": ALICE}, "name"), ("n", " ", {"mailbox": ALICE}, "reason"),
                                            ("n", "r", {}, "at least one criterion"), ("n", "r", {"colour": "red"}, "unknown"),
                                            ("n", "r", {"mailbox": "not-an-address"}, "mailbox")]:  # fmt: skip
        with pytest.raises(InvalidInput, match=message):
            svc.holds.place(CLI, name, reason, criteria)
    with pytest.raises(Forbidden):
        svc.holds.place(Actor("eve", Role.EMAIL_ADMIN), "n", "r", {"mailbox": ALICE})
    assert svc.store.list_docs("legal_hold") == []


def test_a_shared_blob_goes_only_with_its_last_message(svc: Services) -> None:
    raw = b"Subject: same bytes\r\n\r\nshared\r\n"
    first, second = mail("copy-a", raw=raw), mail("copy-b", EXPIRES + timedelta(days=30), raw=raw)
    put(svc.store, [first, second])
    svc.retention.purge(CLI, now=NOW)
    assert present(svc.store, "copy-a", "copy-b") == ["copy-b"] and svc.store.get_raw(first[0].sha256) == raw
    svc.retention.purge(CLI, now=NOW + timedelta(days=60))
    assert svc.store.get_raw(first[0].sha256) is None


class Killed(BaseException):
    """Stands for the process dying between two batches (the SIGKILL test is in tests/e2e)."""


def test_a_purge_interrupted_mid_run_is_resumed_as_the_same_run(svc: Services) -> None:
    put(svc.store, [mail(f"m{n:02d}") for n in range(10)] + [mail("keeper", EXPIRES + timedelta(days=9999))])  # the month stays

    def die_after_three(report: dict) -> None:
        if report["batches"] == 3:
            raise Killed

    with pytest.raises(Killed):
        svc.retention.purge(CLI, now=NOW, batch_size=2, progress=die_after_three)
    assert svc.store.count() == 5 and purge_entries(svc.store) == []  # no entry until the run ends
    state = svc.retention.last_run()
    assert state["status"] == "running"
    # and a fourth batch died after its ledger and deletion, before the run's state was saved:
    fourth = svc.store.scan_expired(NOW, 2, after_seq=state["report"]["position"])
    svc.retention._ledger(PurgeReport(**state["report"]), f"{fourth[0].archive_seq:012d}", fourth)
    svc.store.delete_messages([m.id for m in fourth])
    report = svc.retention.purge(CLI, now=NOW + timedelta(days=999), batch_size=2)
    assert report.resumed and report.purged == 10 and report.cutoff.startswith(NOW.strftime("%Y-%m-%d"))
    assert present(svc.store, "m09", "keeper") == ["keeper"]
    (entry,) = purge_entries(svc.store)
    assert entry.details["purged"] == 10 and entry.details["resumed"] is True
    assert sorted(i for doc in svc.retention.ledger(report.run) for i in doc["ids"]) == [f"m{n:02d}" for n in range(10)]


def test_a_dry_run_changes_nothing(svc: Services) -> None:
    put(svc.store, [mail("a", mailboxes=[ALICE]), mail("b", mailboxes=[BOB]), mail("c", EXPIRES + timedelta(days=9))])
    hold = svc.holds.place(CLI, "Alice", "case", {"mailbox": ALICE})
    put(svc.store, [mail("a-later", mailboxes=[ALICE])])
    before = [(m.id, m.legal_holds, m.retention_until) for m in svc.store.get_messages(["a", "b", "c", "a-later"])]
    report = svc.retention.purge(Actor("admin", Role.ARCHIVE_ADMIN), dry_run=True, now=NOW)
    assert (report.purged, report.spared_by_hold) == (1, 1)  # "a" is marked already, "a-later" is spared
    after = [(m.id, m.legal_holds, m.retention_until) for m in svc.store.get_messages(["a", "b", "c", "a-later"])]
    assert after == before and svc.store.get_message("a-later").legal_holds == []  # not even marked
    assert svc.retention.last_run() is None and svc.retention.ledger() == []
    assert purge_entries(svc.store)[-1].details["dry_run"] is True and hold.active
    with pytest.raises(Forbidden):  # an administrator may look, only the server purges
        svc.retention.purge(Actor("admin", Role.ARCHIVE_ADMIN), now=NOW)
    assert svc.store.count() == 4


def test_restamp_lengthens_freely_shortens_only_when_typed_and_never_below_a_hold(svc: Services) -> None:
    six = T0.replace(year=T0.year + 6)
    put(svc.store, [mail("free", six), mail("held", six, mailboxes=[ALICE])])
    svc.holds.place(CLI, "Alice", "case", {"mailbox": ALICE})
    report = svc.retention.restamp(CLI, 3)  # shorter without confirmation: nothing gets shorter
    assert (report.changed, report.kept_longer) == (0, 1)
    with pytest.raises(InvalidInput, match="shorten to 3 years"):
        svc.retention.restamp(CLI, 3, confirm="yes")
    report = svc.retention.restamp(CLI, 3, confirm=shorten_phrase(3))
    assert (report.changed, report.kept_for_hold) == (1, 1)
    assert [m.retention_until.year for m in svc.store.get_messages(["free", "held"])] == [T0.year + 3, T0.year + 6]
    assert svc.retention.restamp(CLI, 10).changed == 2
    assert svc.store.get_message("free").retention_until.year == T0.year + 10


def test_the_period_is_a_setting_new_mail_is_stamped_with(svc: Services) -> None:
    assert svc.retention.period() == 6
    assert svc.retention.set_period(CLI, "7") == 7 and svc.retention.period() == 7
    for bad in (0, 101, "six", True, None):
        with pytest.raises(InvalidInput):
            svc.retention.set_period(CLI, bad)
    entry = next(r for r in reversed(list(svc.store.audit_scan())) if r.result == "success")
    assert entry.operation == Op.SETTINGS_CHANGE and (entry.details["old"], entry.details["new"]) == (6, 7)


def test_a_month_all_expired_and_unheld_is_dropped_whole_on_elasticsearch(svc: Services) -> None:
    shared = b"Subject: shared\r\n\r\nsame bytes in March and April\r\n"
    march = [mail(f"mar-{n}", date=T0 + timedelta(days=n)) for n in range(3)] + [mail("mar-shared", raw=shared)]
    april = [mail("apr-gone", date=T0 + timedelta(days=35)),
             mail("apr-kept", EXPIRES + timedelta(days=99), date=T0 + timedelta(days=36), raw=shared)]
    hold = svc.holds.place(CLI, "June", "case", {"keyword": "falcon"})
    june = [mail("jun-held", date=T0 + timedelta(days=95), subject="falcon"), mail("jun-other", date=T0 + timedelta(days=96))]
    put(svc.store, [*march, *april, *june])  # June's falcon mail arrives after the hold: a later arrival
    report = svc.retention.purge(CLI, now=NOW, batch_size=2)
    assert sorted(m.id for m in svc.store.get_messages([m.id for m, _ in [*march, *april, *june]])) == ["apr-kept", "jun-held"]
    assert svc.store.get_message("jun-held").legal_holds == [hold.id]
    assert svc.store.get_raw(april[1][0].sha256) == shared  # the dropped month's blob is still referenced
    assert report.purged == 6 and svc.retention.purged(["mar-0", "mar-shared", "apr-gone"]) == {"mar-0", "mar-shared", "apr-gone"}
    if hasattr(svc.store, "es"):  # the Elasticsearch backend
        assert [name.rsplit("-", 1)[1] for name in report.dropped_indices] == ["2024.03"]  # June has a held message
        assert not svc.store.es.indices.exists(index=report.dropped_indices[0])
        assert svc.store.get_raw(march[0][0].sha256) is None  # its own blobs went with it
    else:
        assert report.dropped_indices == []
    (entry,) = purge_entries(svc.store)
    assert entry.details["dropped_indices"] == report.dropped_indices and entry.details["purged"] == 6
    put(svc.store, [mail("mar-late", date=T0 + timedelta(days=2), subject="archived after the drop")])
    assert present(svc.store, "mar-late") == ["mar-late"]  # the month comes back for new mail
