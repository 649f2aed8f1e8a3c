"""Faults of the store under the SMTP spool (issue 17 item 5): Elasticsearch unreachable, then back.

The drainer's sink is the one ``serve`` runs (``ArchiveSink``); "unreachable" is a closed loopback
port, "back" is the session's real node. Mail the receiver acknowledged stays in the spool however
long the outage lasts (no attempt limit moves it to hold/), the drainer backs off, and it catches up
once the cluster answers again.
"""

from __future__ import annotations

import pytest

from server.archiving import set_enabled
from server.config import with_overrides
from server.indexing.smtp import ArchiveSink
from server.indexing.spool import Spool, SpoolDrainer
from server.store import open_store
from tests.support.es import es_config
from tests.support.ingest import find
from tests.support.mail import make_mail
from tests.support.smtp import free_port

pytestmark = pytest.mark.e2e


def test_an_unreachable_cluster_keeps_spooled_mail_until_it_returns_then_the_drainer_catches_up(
        request: pytest.FixtureRequest) -> None:
    config = es_config(request)
    store = open_store(config)
    set_enabled(store, True, "test")
    store.close()
    spool = Spool(config.spool_dir)
    names = [spool.put(make_mail(subject=f"outage {n}", message_id=f"<outage-{n}@corp.example>"),
                       "alice@corp.example", ["bob@corp.example"]) for n in range(5)]
    down = with_overrides(config, store=f"http://127.0.0.1:{free_port()}")
    drainer = SpoolDrainer(spool, ArchiveSink(down, ()), max_attempts=3)
    backoffs = []
    for _ in range(6):  # twice the attempt limit: an outage is not the messages' fault
        drainer.drain(spool.pending())
        backoffs.append(drainer._backoff)
    assert spool.pending() == names and spool.held() == []
    assert backoffs == sorted(backoffs) and backoffs[-1] > backoffs[0] > 0  # it backs off
    drainer.ingest_batch = ArchiveSink(config, ())
    drainer.drain(spool.pending())
    assert spool.pending() == [] and drainer._backoff == 0
    store = open_store(config)
    try:
        assert sorted(m.subject for m in find(store, keyword="outage")) == [f"outage {n}" for n in range(5)]
    finally:
        store.close()
