"""The archive summary's storage size, oldest and newest message and last journaled time (both
backends), and the query page's banner while journal mail is not archived."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from server.archive_admin import archive_summary
from server.archiving import set_enabled
from server.config import Config
from server.indexing.pipeline import Ingestor, RawItem
from server.model import parse_time
from server.store.sqlite import SqliteStore
from server.users import Role
from tests.support.es import es_store
from tests.support.mail import make_mail
from tests.support.web import running_app, signed_in


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request: pytest.FixtureRequest, config: Config) -> Iterator:
    backend = SqliteStore.from_config(config) if request.param == "sqlite" else es_store(request)
    yield backend
    backend.close()


def test_summary_shows_size_date_span_and_last_journaled_time(store, config: Config) -> None:  # noqa: ANN001
    empty = archive_summary(store, config)
    assert (empty.oldest_message, empty.newest_message, empty.last_journaled_at, empty.last_received_at) == (None,) * 4
    dates = [datetime(2019, 5, 2, 8, 0, tzinfo=UTC), datetime(2019, 5, 2, 7, 30, tzinfo=UTC),
             datetime(2024, 1, 9, 12, 0, tzinfo=UTC)]  # fmt: skip
    ingestor = Ingestor(store, config)
    list(ingestor.ingest_many([RawItem(make_mail(date=d, body="y" * 5000)) for d in dates]))
    store.refresh()
    imported = archive_summary(store, config)
    assert parse_time(imported.oldest_message) == dates[1] and parse_time(imported.newest_message) == dates[2]
    assert imported.last_journaled_at is None and imported.last_received_at is not None  # imports are not journal mail
    assert imported.storage_bytes and imported.storage_bytes > (empty.storage_bytes or 0)
    set_enabled(store, True, "test")
    assert ingestor.ingest(make_mail(subject="journaled"), envelope_to=["bob@corp.example"]).status == "archived"
    store.refresh()
    journaled = archive_summary(store, config)
    assert journaled.last_journaled_at is not None
    assert parse_time(journaled.last_journaled_at) >= parse_time(imported.last_received_at)


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    with running_app(config, {"ada": Role.ARCHIVE_ADMIN}) as app:
        yield app


def test_query_page_warns_while_archiving_is_disabled(app: Flask) -> None:
    client = signed_in(app, "ada")
    page = client.get("/search").get_data(as_text=True)
    assert 'id="archiving-disabled-banner"' in page and "journal mail is not being archived" in page
    from server.web.context import services_of

    set_enabled(services_of(app).store, True, "ada")
    assert 'id="archiving-disabled-banner"' not in client.get("/search").get_data(as_text=True)


def test_summary_page_shows_the_new_figures(app: Flask) -> None:
    page = signed_in(app, "ada").get("/archiving/summary").get_data(as_text=True)
    for figure in ("storage-size", "oldest-message", "newest-message", "last-received", "last-journaled"):
        assert f'id="{figure}"' in page
