"""The data directory and its files are owner-only whatever the umask (finding 3 of issue 17)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server.audit.anchors import AnchorFile
from server.config import Config
from server.indexing.spool import Spool
from server.store.sqlite import SqliteStore
from server.web.security import secret_key


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_spool_anchor_and_secret_are_owner_only_with_umask_zero(tmp_path: Path, open_umask) -> None:
    data = tmp_path / "data"
    db = data / "archive.sqlite3"
    store = SqliteStore(db)
    try:
        assert _mode(data) == 0o700
        assert _mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            extra = Path(f"{db}{suffix}")
            if extra.exists():
                assert _mode(extra) == 0o600, suffix
    finally:
        store.close()

    spool = Spool(data / "spool")
    name = spool.put(b"Subject: x\r\n\r\nbody\r\n", "a@example.com", ["b@example.com"])
    assert _mode(data / "spool") == 0o700
    for sub in ("tmp", "new", "hold"):
        assert _mode(data / "spool" / sub) == 0o700
    assert _mode(data / "spool" / "new" / name) == 0o600

    anchors = AnchorFile(data / "anchors")
    anchors.append(1, "0" * 64, sync=False)
    assert _mode(data / "anchors") == 0o700
    assert _mode(anchors.path) == 0o600

    secret_key(Config(data_dir=data))
    secret_files = [p for p in data.iterdir() if p.is_file() and "sqlite3" not in p.name]
    assert secret_files
    for path in secret_files:
        assert _mode(path) == 0o600, path


def test_opening_the_store_twice_in_a_process_keeps_its_commits_when_another_process_closes(tmp_path: Path) -> None:
    """Closing any descriptor of the database drops this process's POSIX locks on it, WAL reader
    locks included: another process closing its last connection then checkpoints and deletes the
    -wal under the open connections, and their next commits vanish. ``serve`` opens the store more
    than once (web, SMTP, POP3), so its first-start accounts were lost this way."""
    path = tmp_path / "archive.sqlite3"
    first = SqliteStore(path)
    first.put_doc("probe", "before", {"n": 1})
    second = SqliteStore(path)  # a second opening in the same process
    other = subprocess.run([sys.executable, "-c", (
        "import sys; from server.store.sqlite import SqliteStore; "
        "s = SqliteStore(sys.argv[1]); s.put_doc('probe', 'other', {'n': 2}); s.close()"), str(path)],
        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert other.returncode == 0, other.stderr
    first.put_doc("probe", "after", {"n": 3})
    with sqlite3.connect(path) as fresh:  # what any other process sees now
        keys = {key for (key,) in fresh.execute("SELECT key FROM docs WHERE kind = 'probe'")}
    first.close()
    second.close()
    assert keys == {"before", "other", "after"}
    reopened = SqliteStore(path)
    assert reopened.get_doc("probe", "after") == {"n": 3}
    reopened.close()
