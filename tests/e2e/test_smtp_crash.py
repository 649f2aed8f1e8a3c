"""Durability: SIGKILL the receiver in the middle of a stream of deliveries, restart, count.

Every message that got ``250`` must be in the archive after the restart, and no message twice. The
receiver runs as ``python -m server serve --only smtp`` (as ``make run`` starts it); four client
connections stream mail until it dies; this happens twice, then a last start drains the spool.
"""

from __future__ import annotations

import os
import signal
import smtplib
import threading
from collections import Counter
from pathlib import Path

import pytest

from server.archiving import set_enabled
from server.config import Config, load_config
from server.query.criteria import parse_criteria
from server.store.sqlite import SqliteStore
from tests.support.mail import make_mail
from tests.support.serving import KillableDaemon
from tests.support.smtp import free_port, wait_for

pytestmark = pytest.mark.e2e

CLIENTS = 4
KILL_AFTER = 120  # acknowledged messages per round before the kill


def receiver_for(data_dir: Path, port: int) -> KillableDaemon:
    env = {**os.environ, "MAILARCHIVE_DATA_DIR": str(data_dir), "MAILARCHIVE_STORE": "sqlite",
           "MAILARCHIVE_SMTP_PORT": str(port), "MAILARCHIVE_CONFIG": "none",
           "MAILARCHIVE_INTERNAL_DOMAINS": "corp.example"}
    return KillableDaemon("smtp", env, port, b"220")


def stream(port: int, start: int, acked: list[str], stop: threading.Event) -> None:
    """One connection sending numbered messages until the server goes away; records each 250."""
    n = start
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            while not stop.is_set():
                mid = f"<crash-{n}@client.test>"
                raw = make_mail(sender="alice@corp.example", to=["bob@corp.example"], subject=f"crash {n}",
                                message_id=mid, body=f"message {n}\n" * 40)
                smtp.sendmail("alice@corp.example", ["bob@corp.example", f"u{n % 7}@corp.example"], raw)
                acked.append(mid)  # sendmail returned: the server said 250
                n += CLIENTS
    except (OSError, smtplib.SMTPException):
        return  # killed mid-transaction: that message was not acknowledged


def kill_mid_stream(receiver: KillableDaemon, round_: int, acked: list[str]) -> None:
    stop = threading.Event()
    before = len(acked)
    threads = [threading.Thread(target=stream, args=(receiver.port, round_ * 100_000 + i, acked, stop))
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acked) >= before + KILL_AFTER, timeout=120, what="deliveries")
    receiver.signal(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(30)


def archived_message_ids(config: Config) -> Counter:
    store = SqliteStore.from_config(config)
    try:
        criteria = parse_criteria({"from": "2000-01-01", "to": "2099-12-31"})
        return Counter(m.message_id.strip("<>") for m in store.scan(criteria))
    finally:
        store.close()


def test_sigkill_mid_stream_loses_nothing_acknowledged_and_stores_nothing_twice(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=data_dir)
    data_dir.mkdir()
    store = SqliteStore.from_config(config)
    set_enabled(store, True, "test")
    store.close()
    receiver = receiver_for(data_dir, free_port())
    acked: list[str] = []
    spooled_at_kill = []
    try:
        for round_ in range(2):
            receiver.start()
            kill_mid_stream(receiver, round_, acked)
            spooled_at_kill.append(len(list((data_dir / "spool" / "new").iterdir())))
        receiver.start()
        wait_for(lambda: not any((data_dir / "spool" / "new").iterdir()), timeout=120, what="the spool to drain")
        receiver.signal(signal.SIGTERM)
    finally:
        receiver.stop()  # a failed wait above must not leave the receiver running

    archived = archived_message_ids(config)
    missing = [mid for mid in acked if mid.strip("<>") not in archived]
    twice = {mid: n for mid, n in archived.items() if n > 1}
    assert len(acked) >= 2 * KILL_AFTER
    assert not missing, f"{len(missing)} acknowledged messages lost (spool at kill: {spooled_at_kill})"
    assert not twice
    assert len(set(acked)) == len(acked)
