"""The POP3 daemon on the Elasticsearch store (the real node of the test session), driven by
poplib: the window in arrival order, exact bytes, DELE+QUIT acknowledging through the position
document (compare-and-set on Elasticsearch), and a late old-dated message in the next session."""

from __future__ import annotations

import poplib
from datetime import UTC, datetime

import pytest

from pop3d.wire import crlf_lines
from server.config import Config
from server.services.context import Services
from tests.support.es import es_config
from tests.support.mail import make_mail
from tests.support.pop3 import ACCOUNT, PASSWORD, archive, enable, pop3_config, pop3_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> Config:
    config = pop3_config(es_config(request), window=3)
    enable(config)
    return config


def _session(port: int) -> poplib.POP3:
    pop = poplib.POP3("127.0.0.1", port, timeout=30)
    pop.user(ACCOUNT)
    pop.pass_(PASSWORD)
    return pop


def test_poplib_drains_an_elasticsearch_archive_in_arrival_order(cfg: Config) -> None:
    mails = archive(cfg, [make_mail(subject=f"es {n}", body=f"line\n.\n..{n}\n") for n in range(5)])
    with Services.open(cfg) as svc:
        wire = [crlf_lines(svc.store.get_raw(m.sha256) or b"") for m in mails]
    with pop3_daemon(cfg) as daemon:
        pop = _session(daemon.port)
        assert pop.stat()[0] == 3  # the window
        assert [line.split()[1].decode() for line in pop.uidl()[1]] == [m.id for m in mails[:3]]
        for number in (1, 2, 3):
            _, lines, _ = pop.retr(number)
            assert b"\r\n".join(lines) + b"\r\n" == wire[number - 1]
            pop.dele(number)
        pop.quit()
        late = archive(cfg, [make_mail(subject="dated 1999, archived now", date=datetime(1999, 12, 31, tzinfo=UTC))])
        pop = _session(daemon.port)
        assert [line.split()[1].decode() for line in pop.uidl()[1]] == [mails[3].id, mails[4].id, late[0].id]
        pop.quit()  # nothing deleted: nothing acknowledged
    with Services.open(cfg) as svc:
        assert svc.pop3.position() == mails[2].archive_seq
