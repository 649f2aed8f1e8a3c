"""Elasticsearch-specific behaviour of the store (on the real test engine, or MAILARCHIVE_TEST_ES_URL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from server.store.elasticsearch import ElasticsearchStore
from server.store.elasticsearch import bulk as bulk_module
from server.store.elasticsearch.bulk import Action, bulk
from tests.conformance.factory import ALICE, BOB, CAROL, make, put, search_ids
from tests.support.es import delete_prefix, es_store
from tests.support.es_throttle import ThrottlingProxy

MAY, JUNE = datetime(2024, 5, 20, 9, tzinfo=UTC), datetime(2024, 6, 2, 9, tzinfo=UTC)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[ElasticsearchStore]:
    backend = es_store(request)
    yield backend
    backend.close()


def test_monthly_indices_behind_the_read_alias(store: ElasticsearchStore) -> None:
    put(store, [make("may", date=MAY), make("june", date=JUNE)])
    names = store.names
    months = sorted(store.es.indices.get(index=names.pattern))
    assert months == [f"{names.prefix}-messages-v3-2024.05", f"{names.prefix}-messages-v3-2024.06"]
    assert sorted(store.es.indices.get_alias(name=names.messages)) == months
    template = store.es.indices.get_index_template(name=names.template)["index_templates"][0][
        "index_template"
    ]
    assert template["index_patterns"] == [names.pattern]
    assert template["template"]["mappings"]["dynamic"] == "strict"
    assert store.es.get(index=months[0], id="may")["found"]


def test_raw_bytes_single_instance_and_compressed(store: ElasticsearchStore) -> None:
    message, raw = make("r", body="x" * 5000)
    put(store, [(message, raw)])
    doc = store.es.get(index=store.names.raw, id=message.sha256)["_source"]
    assert doc["compression"] == "zstd" and doc["size"] == len(raw)
    assert len(doc["data"]) < len(raw) / 4  # base64 of zstd of a repetitive body
    assert store.get_raw(message.sha256) == raw


def test_strict_mapping_refuses_an_unknown_field_from_a_raw_client(store: ElasticsearchStore) -> None:
    put(store, [make("seed", date=MAY)])
    index = store.names.month(2024, 5)
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping"):
        store.es.index(index=index, id="intruder", document={"id": "intruder", "colour": "red"})
    for index in (store.names.raw, store.names.directory, store.names.docs):
        with pytest.raises(BadRequestError, match="strict_dynamic_mapping"):
            store.es.index(index=index, id="intruder", document={"colour": "red"})


def test_a_copy_dated_in_another_month_merges_where_the_message_lives(store: ElasticsearchStore) -> None:
    """No Date header: each copy gets its own arrival time, possibly in the next month."""
    first, raw = make("late", date=MAY, mailboxes=[ALICE])
    copy, _ = make("late", date=JUNE, mailboxes=[BOB])
    assert put(store, [(first, raw)]) == ["created"]
    assert put(store, [(copy, raw)]) == ["merged"]
    assert store.count() == 1
    assert store.es.indices.exists(index=store.names.month(2024, 6)).body is False
    assert store.get_message("late").mailboxes == [ALICE, BOB]
    assert store.get_message("late").date == first.date


def test_concurrent_writers_of_one_message_both_land(store: ElasticsearchStore) -> None:
    """Two processes archiving copies at once: one creates, the other conflicts, re-reads, merges."""
    ids = [f"race-{n}" for n in range(15)]
    statuses: list[str] = []
    barrier = threading.Barrier(2)

    def writer(mailbox: str) -> None:
        barrier.wait()
        statuses.extend(r.status for r in store.put_messages([make(i, mailboxes=[mailbox]) for i in ids]))

    threads = [threading.Thread(target=writer, args=(m,)) for m in (ALICE, CAROL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.refresh()
    assert sorted(statuses) == sorted(["created"] * len(ids) + ["merged"] * len(ids))
    assert all(sorted(m.mailboxes) == [ALICE, CAROL] for m in store.get_messages(ids))
    assert store.count() == len(ids)


def test_bulk_reports_each_rejected_document(
    store: ElasticsearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks bounded by count and bytes; every action keeps its own outcome, in order."""
    monkeypatch.setattr(bulk_module, "MAX_ACTIONS", 3)
    monkeypatch.setattr(bulk_module, "MAX_BYTES", 200)
    index = store.names.docs
    sources = [{"kind": "t", "key": str(n)} if n % 4 else {"kind": "t", "shape": "round"} for n in range(10)]
    outcomes = bulk(
        store.es, [Action("index", {"_index": index, "_id": f"t/{n}"}, s) for n, s in enumerate(sources)]
    )
    failed = [n for n, o in enumerate(outcomes) if "error" in o]
    assert failed == [0, 4, 8]
    assert all("shape" in outcomes[n]["error"] for n in failed)
    assert [o["status"] for n, o in enumerate(outcomes) if n not in failed] == [201] * 7


def test_a_mistyped_message_fails_with_the_reason_and_the_batch_goes_on(store: ElasticsearchStore) -> None:
    bad, raw = make("bad")
    bad.size = {"not": "a number"}  # type: ignore[assignment]
    results = store.put_messages([(bad, raw), make("good", subject="fine")])
    assert [r.status for r in results] == ["failed", "created"]
    assert "size" in (results[0].error or "")
    store.refresh()
    assert search_ids(store, keyword="fine") == ["good"]


@pytest.mark.parametrize(("throttled", "expected"), [(2, "created"), (99, "failed")])
def test_bulk_retries_a_busy_cluster_then_reports_failure(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, throttled: int, expected: str
) -> None:
    """429 items are retried with backoff; past MAX_RETRIES each becomes "failed" with the reason."""
    monkeypatch.setattr(bulk_module, "BACKOFF", 0.01)
    store = es_store(request)
    proxy = ThrottlingProxy(store.es.transport.node_pool.all()[0].base_url, throttled)
    request.addfinalizer(proxy.close)
    behind = ElasticsearchStore(Elasticsearch(proxy.url), store.names.prefix)
    results = behind.put_messages([make("a", subject="busy"), make("b", subject="busy")])
    assert [r.status for r in results] == [expected, expected]
    if expected == "failed":
        assert "es_rejected_execution_exception" in (results[0].error or "")
        assert proxy.bulk_requests == bulk_module.MAX_RETRIES + 1
    store.refresh()
    assert store.count() == (2 if expected == "created" else 0)


def test_a_retried_chunk_keeps_every_outcome_at_its_position(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request (3 actions) is throttled and retried after the later chunks went through:
    outcomes still line up with their actions, including a refused document among them."""
    monkeypatch.setattr(bulk_module, "BACKOFF", 0.01)
    monkeypatch.setattr(bulk_module, "MAX_ACTIONS", 3)
    store = es_store(request)
    proxy = ThrottlingProxy(store.es.transport.node_pool.all()[0].base_url, throttled=1)
    request.addfinalizer(proxy.close)
    behind = Elasticsearch(proxy.url)
    sources = [{"kind": "t", "key": str(n)} if n != 1 else {"kind": "t", "shape": "round"} for n in range(8)]
    outcomes = bulk(behind, [Action("create", {"_index": store.names.docs, "_id": f"t/{n}"}, s)
                             for n, s in enumerate(sources)])  # fmt: skip
    assert [o["_id"] for o in outcomes] == [f"t/{n}" for n in range(8)]
    assert [o["status"] for o in outcomes] == [201, 400, 201, 201, 201, 201, 201, 201]
    assert "strict_dynamic_mapping" in outcomes[1]["error"]
    assert proxy.bulk_requests == 4  # 3 chunks + 1 retry


def test_long_tokens_and_absurd_headers_are_archived_and_found(store: ElasticsearchStore) -> None:
    """Malformed mail: a 600-character word (real Elasticsearch's whitespace tokenizer cuts at 255 by
    default), a 40,000-byte sender (over Lucene's term limit). osmem enforces neither: this test
    guards the mapping on a real cluster (MAILARCHIVE_TEST_ES_URL)."""
    word = "x" * 600
    assert put(store, [make("odd", body=f"start {word} end", sender="s" * 40_000 + "@corp.example")]) == [
        "created"
    ]
    assert search_ids(store, keyword=word) == ["odd"]
    assert search_ids(store, keyword=f'"start {word} end"') == ["odd"]


def test_processes_starting_at_once_prepare_the_layout_once(request: pytest.FixtureRequest) -> None:
    """Several servers starting together on an empty cluster race to create the template and the
    fixed indices; every one starts, and the layout is there once."""
    first = es_store(request)
    request.addfinalizer(first.close)
    prefix, client = first.names.prefix + "-race", first.es
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            ElasticsearchStore(client, prefix).refresh()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    request.addfinalizer(lambda: delete_prefix(client.transport.node_pool.all()[0].base_url, prefix))
    assert errors == []
    store = ElasticsearchStore(client, prefix)
    assert put(store, [make("after-race", date=MAY)]) == ["created"]
    assert store.es.indices.exists(index=store.names.docs)


def _template_meta(store: ElasticsearchStore) -> dict:
    found = store.es.indices.get_index_template(name=store.names.template)["index_templates"][0]
    return found["index_template"].get("_meta") or {}


def test_opening_again_leaves_a_current_template_alone(store: ElasticsearchStore) -> None:
    """A second open (a read-only ``mailarchive search``, say) reads the template and does not write
    it: a mark put beside the digest survives the open. Then a template that differs from this
    release's (an older release wrote it, without the digest) is replaced by the next open."""
    names = store.names
    found = store.es.indices.get_index_template(name=names.template)["index_templates"][0]["index_template"]
    found = {k: found[k] for k in ("index_patterns", "template", "version", "priority")}
    digest = _template_meta(store)["mailarchive_digest"]
    store.es.indices.put_index_template(name=names.template, **{**found, "_meta": {"mailarchive_digest": digest, "mark": "kept"}})
    ElasticsearchStore(store.es, names.prefix)  # shares the client: not closed here
    assert _template_meta(store) == {"mailarchive_digest": digest, "mark": "kept"}

    store.es.indices.put_index_template(name=names.template, **{**found, "_meta": {"mark": "older release"}})
    reopened = ElasticsearchStore(store.es, names.prefix)
    assert _template_meta(store) == {"mailarchive_digest": digest}
    assert put(reopened, [make("after-reopen", date=MAY)]) == ["created"]
    assert store.es.get(index=names.month(2024, 5), id="after-reopen")["found"]
