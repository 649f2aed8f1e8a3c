"""``/healthz``, ``/readyz``, ``mailarchive status`` and ``/metrics`` against a real SQLite archive,
a real Redis server and the real ingestion pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from server.cli import main
from server.config import Config, with_overrides
from server.indexing.pipeline import Ingestor, RawItem
from server.indexing.spool import Spool
from server.users import Role
from server.web.context import services_of
from tests.support.cli import cli_archive
from tests.support.mail import make_mail
from tests.support.redis import redis_server
from tests.support.web import running_app, signed_in

TOKEN = "scrape-secret-0123456789"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path / "redis") as url:
        yield url


@pytest.fixture
def ready_config(config: Config, redis_url: str) -> Config:
    """Everything a node needs: Redis up, spool created (as the receiver does), a low disk threshold."""
    config = with_overrides(config, redis_url=redis_url, metrics_token=TOKEN, min_free_disk_mb=1)
    Spool(config.spool_dir)
    return config


@pytest.fixture
def app(ready_config: Config) -> Iterator[Flask]:
    with running_app(ready_config, {"ada": Role.ARCHIVE_ADMIN, "postmaster": Role.POSTMASTER}) as app:
        yield app


def test_healthz_answers_without_sign_in(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_is_ready_when_store_redis_spool_and_disk_are(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    assert [c["name"] for c in response.json["checks"]] == ["store", "redis", "spool", "disk"]


def test_readyz_names_each_failing_check(config: Config) -> None:
    """No Redis running, no spool, and a disk threshold no disk meets: three failures, one 503."""
    unready = with_overrides(config, min_free_disk_mb=1 << 40)
    with running_app(unready) as app:
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    failing = {c["name"]: c["detail"] for c in response.json["checks"] if not c["ok"]}
    assert set(failing) == {"redis", "spool", "disk"}
    assert "embedded Redis is not running" in failing["redis"]
    assert "MiB free" in failing["disk"]


def test_readyz_fails_when_the_spool_cannot_take_a_file(ready_config: Config) -> None:
    """The suite runs as root, which ignores permission bits: a file where the receiver's ``tmp/``
    directory should be makes the probe write fail as a read-only or broken mount would."""
    tmp = ready_config.spool_dir / "tmp"
    tmp.rmdir()
    tmp.write_bytes(b"")
    with running_app(ready_config) as app:
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    failing = [c for c in response.json["checks"] if not c["ok"]]
    assert [c["name"] for c in failing] == ["spool"] and "not a directory" in failing[0]["detail"]


def test_status_command_prints_the_checks_and_exits_1_when_not_ready(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = cli_archive(monkeypatch, tmp_path / "cli")
    monkeypatch.setenv("MAILARCHIVE_MIN_FREE_DISK_MB", "1")
    assert main(["status"]) == 1  # no Redis configured or running, no spool yet
    out = capsys.readouterr().out
    assert "redis  FAIL" in out and out.strip().endswith("not ready")
    monkeypatch.setenv("MAILARCHIVE_REDIS_URL", redis_url)
    Spool(config.spool_dir)
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "ready" and all(" ok " in line for line in lines[:-1])


@pytest.mark.parametrize("roles, checks", [
    ("web", ["store", "redis", "disk"]),  # queues Export All jobs: Redis; no receiver here: no spool
    ("smtp", ["store", "spool", "disk"]),
    ("pop3", ["store", "disk"]),
    ("worker", ["store", "redis", "disk"]),
    ("smtp,pop3", ["store", "spool", "disk"]),
    ("worker,smtp,pop3,web", ["store", "redis", "spool", "disk"]),
])
def test_readyz_checks_only_what_the_nodes_roles_need(config: Config, redis_url: str, roles: str, checks: list[str]) -> None:
    """No spool was ever made here and the embedded Redis is not running; Redis is reached by URL."""
    node = with_overrides(config, roles=roles, redis_url=redis_url, min_free_disk_mb=1)
    with running_app(node) as app:
        response = app.test_client().get("/readyz")
    assert [c["name"] for c in response.json["checks"]] == checks
    assert (response.status_code == 200) == ("spool" not in checks), response.json


def test_a_web_only_node_without_redis_is_not_ready_and_says_why(config: Config) -> None:
    with running_app(with_overrides(config, roles="web", min_free_disk_mb=1)) as app:
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert [c["name"] for c in response.json["checks"] if not c["ok"]] == ["redis"]


def test_node_roles_are_the_daemons_serve_can_run_and_bad_ones_are_refused() -> None:
    from server.config import NODE_ROLES, ConfigError, load_config
    from server.daemons import names

    assert tuple(names()) == NODE_ROLES
    with pytest.raises(ConfigError, match="MAILARCHIVE_ROLES must name one or more of worker, smtp, pop3, web"):
        load_config(env={"MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_ROLES": "web,mail"})


def test_status_only_checks_the_named_roles(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_archive(monkeypatch, tmp_path / "cli")
    monkeypatch.setenv("MAILARCHIVE_MIN_FREE_DISK_MB", "1")
    assert main(["status", "--only", "pop3"]) == 0  # neither Redis nor a spool is needed for POP3
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["store", "disk", "ready"]
    monkeypatch.setenv("MAILARCHIVE_ROLES", "smtp")
    assert main(["status"]) == 1
    assert "spool  FAIL" in capsys.readouterr().out
    assert main(["status", "--only", "mail"]) == 2


def _scrape(app: Flask, **headers: str) -> dict[str, dict[tuple, float]]:
    response = app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_need_the_scrape_token_or_an_admin(app: Flask) -> None:
    anonymous = app.test_client().get("/metrics")
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["WWW-Authenticate"]
    assert app.test_client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert signed_in(app, "postmaster").get("/metrics").status_code == 403
    assert signed_in(app, "ada").get("/metrics").status_code == 200
    admin_token = services_of(app).users.create_token("ada")
    assert app.test_client().get("/metrics", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200
    postmaster_token = services_of(app).users.create_token("postmaster")
    assert app.test_client().get("/metrics", headers={"Authorization": f"Bearer {postmaster_token}"}).status_code == 403
    assert app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_count_ingest_outcomes_written_by_another_process_handle(app: Flask, ready_config: Config) -> None:
    """The pipeline writes durable counters through its own store handle (as the drainer does in
    its process); the web's scrape reads them."""
    from server.store import open_store

    store = open_store(ready_config)
    try:
        ingestor = Ingestor(store, ready_config)
        first = make_mail(subject="one")
        items = [RawItem(first), RawItem(first), RawItem(make_mail(subject="two")),
                 RawItem(make_mail(subject="journal"), source="smtp")]  # archiving is off: skipped
        statuses = [o.status for o in ingestor.ingest_many(items)]
    finally:
        store.close()
    assert statuses == ["archived", "duplicate", "archived", "skipped_disabled"]
    samples = _scrape(app, Authorization=f"Bearer {TOKEN}")
    ingest = samples["mailarchive_ingest_messages_total"]
    assert ingest[(("outcome", "archived"), ("source", "import"))] == 2
    assert ingest[(("outcome", "duplicate"), ("source", "import"))] == 1
    assert ingest[(("outcome", "skipped_disabled"), ("source", "smtp"))] == 1
    assert ingest[(("outcome", "archived"), ("source", "smtp"))] == 0
    assert samples["mailarchive_archived_messages"][()] == 2
    assert samples["mailarchive_journal_not_stored_total"][()] == 1
    latency = samples["mailarchive_store_latency_seconds_count"]
    assert latency[(("op", "put_messages"),)] >= 1
    assert samples["mailarchive_store_latency_seconds_bucket"][(("le", "+Inf"), ("op", "put_messages"))] == \
        latency[(("op", "put_messages"),)]
    assert samples["mailarchive_queue_depth"][()] == 0
    assert samples["mailarchive_spool_depth"][()] == 0
    assert samples["mailarchive_ready"][(("check", "redis"),)] == 1


def test_metrics_report_spool_depth_and_held_files(app: Flask, ready_config: Config) -> None:
    spool = Spool(ready_config.spool_dir, recover=False)
    names = [spool.put(make_mail(), "a@corp.example", ["b@corp.example"]) for _ in range(3)]
    spool.hold(names[0])
    samples = _scrape(app, Authorization=f"Bearer {TOKEN}")
    assert samples["mailarchive_spool_depth"][()] == 2
    assert samples["mailarchive_spool_held"][()] == 1
