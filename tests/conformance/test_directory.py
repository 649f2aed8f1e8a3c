"""Directory accounts, settings, counters and small documents."""

from __future__ import annotations

import threading

from server.model import Account
from server.store import Store


def test_accounts_upsert_and_get(store: Store) -> None:
    accounts = [Account("Alice@Corp.Example", "Alice", "/Sales/East"), Account("bob@corp.example", "Bob", "/Sales")]
    assert store.upsert_accounts(accounts) == 2
    found = store.get_accounts(["alice@corp.example", "BOB@corp.example", "nobody@corp.example"])
    assert set(found) == {"alice@corp.example", "bob@corp.example"}
    assert found["alice@corp.example"] == Account("alice@corp.example", "Alice", "/Sales/East", "active")


def test_upsert_updates_an_existing_account(store: Store) -> None:
    store.upsert_accounts([Account("alice@corp.example", "Alice", "/Sales/East")])
    store.upsert_accounts([Account("alice@corp.example", "Alice Smith", "/Legal", "disabled")])
    assert store.list_accounts() == [Account("alice@corp.example", "Alice Smith", "/Legal", "disabled")]


def test_list_accounts_by_status(store: Store) -> None:
    store.upsert_accounts([
        Account("a@corp.example", status="active"), Account("d@corp.example", status="disabled"),
        Account("x@corp.example", status="deleted"), Account("b@corp.example"),
    ])  # fmt: skip
    assert sorted(a.address for a in store.list_accounts()) == ["a@corp.example", "b@corp.example", "d@corp.example", "x@corp.example"]
    assert sorted(a.address for a in store.list_accounts(status="active")) == ["a@corp.example", "b@corp.example"]
    assert [a.address for a in store.list_accounts(status="deleted")] == ["x@corp.example"]


def test_list_departments_includes_ancestors(store: Store) -> None:
    assert store.list_departments() == []
    store.upsert_accounts([Account("a@corp.example", department="/Sales/East/Shanghai"),
                           Account("b@corp.example", department="/Legal"), Account("c@corp.example")])  # fmt: skip
    assert store.list_departments() == ["/Legal", "/Sales", "/Sales/East", "/Sales/East/Shanghai"]


def test_settings(store: Store) -> None:
    assert store.get_setting("archiving") is None
    assert store.get_setting("archiving", {"enabled": False}) == {"enabled": False}
    for value in [True, 42, "文字", ["a", "b"], {"enabled": True, "nested": {"n": [1, 2.5, None]}}]:
        store.set_setting("key", value)
        assert store.get_setting("key") == value


def test_counters(store: Store) -> None:
    assert store.get_counter("skipped") == 0
    assert store.incr_counter("skipped") == 1
    assert store.incr_counter("skipped", 5) == 6
    assert store.incr_counter("other", 2) == 2
    assert store.get_counter("skipped") == 6


def test_several_counters_in_one_write(store: Store) -> None:
    store.incr_counter("a", 2)
    store.incr_counters({"a": 3, "b": 1, "c": 0})
    store.incr_counters({})
    assert [store.get_counter(k) for k in ("a", "b", "c")] == [5, 1, 0]


def test_counter_increments_from_threads_are_not_lost(store: Store) -> None:
    def bump() -> None:
        for _ in range(20):
            store.incr_counter("race")

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_counter("race") == 80


def test_documents(store: Store) -> None:
    store.put_doc("user", "alice", {"role": "archive-admin", "hash": "x"})
    store.put_doc("user", "bob", {"role": "postmaster"})
    store.put_doc("api_token", "alice", {"user": "alice"})
    assert store.get_doc("user", "alice") == {"role": "archive-admin", "hash": "x"}
    assert store.get_doc("user", "carol") is None
    assert sorted(store.list_docs("user")) == [("alice", {"role": "archive-admin", "hash": "x"}), ("bob", {"role": "postmaster"})]
    store.put_doc("user", "alice", {"role": "email-admin"})
    assert store.get_doc("user", "alice") == {"role": "email-admin"}
    assert store.delete_doc("user", "alice") is True
    assert store.delete_doc("user", "alice") is False
    assert store.list_docs("user") == [("bob", {"role": "postmaster"})]
    assert store.get_doc("api_token", "alice") == {"user": "alice"}
