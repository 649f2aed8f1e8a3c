"""Fuzzed mail through ``mailarchive import`` and through a real SMTP session: archived byte for byte or
refused with a reason, never lost, never a crash or a hang (tests/fuzz/harness.py says how each
message is accounted for).

The normal suite runs a seeded sample (``MAILARCHIVE_FUZZ_COUNT``, default 120 per entry point);
``python bench/fuzz.py`` runs 10,000 and writes the figures to bench/results/ (docs/reliability.md).
A hypothesis property drives the in-process pipeline with its own generated messages.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from server.archiving import set_enabled
from server.config import Config
from server.indexing.budget import PARSE_BUDGET_SECONDS, WALL_FACTOR
from server.indexing.parse import parse
from server.indexing.pipeline import Ingestor, RawItem
from server.store.sqlite import SqliteStore
from tests.fuzz.harness import FuzzReport, Sent, account, import_run, parse_times, smtp_payload, smtp_send
from tests.fuzz.messages import corpus_messages, fuzz_messages, hostile_messages
from tests.support.smtp import receiver_settings, running_service, wait_for

pytestmark = [pytest.mark.fuzz, pytest.mark.corpus]
COUNT = int(os.environ.get("MAILARCHIVE_FUZZ_COUNT", "120"))
SEED = int(os.environ.get("MAILARCHIVE_FUZZ_SEED", "17"))
# A hang fails the run; a slow machine must not: each message is parsed within its CPU budget, but a
# starved parser may take up to the wall-clock backstop, so room for ten such messages on top.
HANG_LIMIT = 60 + COUNT * 0.5 + 10 * PARSE_BUDGET_SECONDS * WALL_FACTOR


@pytest.fixture(scope="module")
def messages(corpus_dir: Path) -> list[Sent]:
    return list(fuzz_messages(COUNT, SEED, corpus_messages(corpus_dir)))


def assert_nothing_lost(report: FuzzReport) -> None:
    assert not report.lost, f"{len(report.lost)} messages lost or broken: {report.lost[:10]}"
    assert report.archived + report.deduplicated + sum(report.refused.values()) == report.generated
    assert "disconnected" not in report.refused, "the receiver dropped a session"


@pytest.mark.timeout(HANG_LIMIT + 300)
def test_every_fuzzed_message_imported_is_archived_byte_for_byte(messages: list[Sent], config: Config,
                                                                   tmp_path: Path) -> None:
    report = import_run(config, messages, tmp_path, timeout=HANG_LIMIT)
    parse_times(messages, report)
    print(report.to_dict())
    assert_nothing_lost(report)
    assert report.archived > COUNT * 0.9  # mutants of one message rarely collapse into one


@pytest.mark.timeout(HANG_LIMIT + 300)
def test_every_fuzzed_message_sent_by_smtp_is_archived_byte_for_byte_or_refused(messages: list[Sent],
                                                                                 config: Config) -> None:
    store = SqliteStore.from_config(config)
    set_enabled(store, True, "fuzz")
    store.close()
    sent = [(index, kind, smtp_payload(raw)) for index, kind, raw in messages]  # what the receiver gets
    with running_service(config, receiver_settings(config, max_message_size=8 * 1024 * 1024)) as service:
        refused = smtp_send(service.settings.port, messages)
        spool = config.spool_dir
        wait_for(lambda: not any((spool / "new").iterdir()), timeout=HANG_LIMIT, what="the spool to drain")
    held = sorted((spool / "hold").iterdir()) if (spool / "hold").is_dir() else []
    assert not held, f"{len(held)} spooled messages were held back by the drainer: {held[:5]}"
    report = FuzzReport("smtp")
    account(config, sent, refused, report)
    print(report.to_dict())
    assert_nothing_lost(report)
    assert set(report.refused) <= {r for r in report.refused if r.startswith("552 ")}, report.refused


@settings(max_examples=int(os.environ.get("MAILARCHIVE_FUZZ_EXAMPLES", "60")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(raw=hostile_messages())
def test_hypothesis_messages_are_archived_with_their_exact_bytes(raw: bytes, config: Config) -> None:
    store = SqliteStore.from_config(config)
    try:
        [outcome] = Ingestor(store, config).store_batch([(RawItem(raw, source="import"), parse(raw))])
        assert outcome.status in ("archived", "duplicate"), outcome  # examples share one archive:
        if outcome.status == "archived":  # a duplicate is an earlier example with the same dedupe key
            assert store.get_raw(hashlib.sha256(raw).hexdigest()) == raw
        else:
            assert store.get_message(outcome.id or "") is not None
    finally:
        store.close()
