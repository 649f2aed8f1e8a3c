"""The web app writes the store latency histogram after the response, never into a lost list.

A search through the API is counted once its response has been closed (the client already has
it); work the same thread does after the request (the test client runs the app in this thread,
as a waitress worker thread runs other requests) writes its latency at once again.
"""

from __future__ import annotations

from server.ops.counters import latency_key, timed
from server.web.context import services_of
from tests.support.web import api_token
from tests.support.webdata import sample_app_fixture  # noqa: F401 - fixture

COUNT = latency_key("search", "count")


def test_api_search_latency_is_written_after_the_response(app) -> None:  # noqa: ANN001
    store = services_of(app).store
    before = store.get_counter(COUNT)
    response = app.test_client().get("/api/v1/messages?from=2020-01-01&to=2030-12-31", headers=api_token(app, "archie"))
    assert response.status_code == 200 and response.get_json()["total"] >= 1
    assert store.get_counter(COUNT) == before  # not on the request's path
    response.close()
    assert store.get_counter(COUNT) == before + 1
    assert store.get_counter(latency_key("search", "sum_us")) > 0


def test_a_timed_call_after_a_request_in_the_same_thread_is_written_at_once(app) -> None:  # noqa: ANN001
    store = services_of(app).store
    client = app.test_client()
    client.get("/api/v1/messages?from=2020-01-01&to=2030-12-31", headers=api_token(app, "archie")).close()
    before = store.get_counter(COUNT)
    with timed(store, "search"):
        pass
    assert store.get_counter(COUNT) == before + 1

