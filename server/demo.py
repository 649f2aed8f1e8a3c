"""Sample data for trying the console: a small company directory and realistic English/Chinese mail
of the last 90 days, archived through the real ingestion pipeline.

The mail comes from the synthetic generator (``server.synthetic``: threads, HTML, attachments with
names in many charsets, journal copies, auto-replies, bounces, spam), with its dates moved to the
recent past so the search page's "last 30/90 days" quick picks find it straight away.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from server.config import Config
from server.indexing.pipeline import Ingestor, RawItem
from server.model import format_time, now_utc, parse_time
from server.store.protocol import Store
from server.synthetic import MailGenerator, MailProfile, build_directory

DEMO_DAYS = 90
DEMO_ACCOUNTS = 120  # a small company: the department picker stays readable
DEMO_EXTERNALS = 40
ANCHOR_KEY = "demo_data_until"


@dataclass
class DemoSummary:
    accounts: int
    generated: int = 0
    outcomes: Counter = field(default_factory=Counter)


def demo_profile(store: Store, days: int = DEMO_DAYS) -> MailProfile:
    """The last ``days`` days before the first demo run (kept in the store, so a later run with the
    same seed generates the very same messages and archives nothing twice)."""
    anchor = store.get_setting(ANCHOR_KEY)
    if anchor is None:
        anchor = format_time(now_utc().replace(second=0, microsecond=0))
        store.set_setting(ANCHOR_KEY, anchor)
    end = parse_time(anchor)
    return MailProfile(start=end - timedelta(days=days), end=end)


def load_demo_data(store: Store, config: Config, *, count: int, seed: int = 7) -> DemoSummary:
    """Import the directory, then ``count`` generated messages (journal copies included) as an
    import: archived whatever the archiving switch says. Re-running adds only what is new."""
    directory = build_directory(seed, size=DEMO_ACCOUNTS, externals=DEMO_EXTERNALS)
    summary = DemoSummary(accounts=store.upsert_accounts(directory.as_accounts()))
    mail = MailGenerator(directory, seed=seed, stream=0, first=0, count=count, total=count, profile=demo_profile(store))
    items = (RawItem(raw, source="import", origin=f"demo:{n}") for n, raw in enumerate(mail))
    for outcome in Ingestor(store, config).ingest_many(items):
        summary.generated += 1
        summary.outcomes[outcome.status] += 1
    store.refresh()
    return summary
