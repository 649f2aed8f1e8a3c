"""Disk full during ingest (issue 17 item 5): a small tmpfs as the data dir, an import larger than it.

The import must stop with a one-line error (no traceback), every message the store holds must be
whole (its blob present and matching its SHA-256: no partial record), and once space is freed
(the tmpfs remounted larger) a second import archives the rest, nothing twice.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.config import load_config
from server.query.criteria import parse_criteria
from server.store import open_store
from tests.support.mail import make_mail

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 120


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root and mount rights): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def run_import(data_dir: Path, folder: Path) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")},
           "MAILARCHIVE_DATA_DIR": str(data_dir), "MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_STORE": "sqlite"}
    return subprocess.run([sys.executable, "-m", "server", "import", str(folder), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def archived(data_dir: Path) -> dict[str, int]:
    """message id -> times seen; asserts every record is whole (blob present, SHA-256 matching)."""
    store = open_store(load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=data_dir))
    try:
        seen: dict[str, int] = {}
        for message in store.scan(parse_criteria({"from": "1900-01-01", "to": "2999-12-31"})):
            raw = store.get_raw(message.sha256)
            assert raw is not None and hashlib.sha256(raw).hexdigest() == message.sha256, message.id
            seen[message.message_id] = seen.get(message.message_id, 0) + 1
        return seen
    finally:
        store.close()


def test_disk_full_during_import_is_one_line_no_partial_record_and_a_rerun_completes(small_disk: Path,
                                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    for n in range(MESSAGES):  # 120 x ~60 KB of incompressible-ish text: about twice the 4 MB disk
        body = hashlib.sha256(str(n).encode()).hexdigest() * 900
        (folder / f"{n:04d}.eml").write_bytes(make_mail(subject=f"disk {n}", message_id=f"<disk-{n}@corp.example>",
                                                        body=body))
    data_dir = small_disk / "data"
    open_store(load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=data_dir)).close()
    first = run_import(data_dir, folder)
    assert first.returncode != 0, "the import should have run out of space"
    assert "Traceback" not in first.stderr, first.stderr[-3000:]
    errors = [line for line in first.stderr.splitlines() if line.startswith("mailarchive:")]
    assert len(errors) == 1 and ("space" in errors[0].lower() or "full" in errors[0].lower()), first.stderr[-2000:]
    before = archived(data_dir)
    assert len(before) < MESSAGES and all(n == 1 for n in before.values())

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    second = run_import(data_dir, folder)
    assert second.returncode == 0, second.stderr[-2000:]
    after = archived(data_dir)
    assert sorted(after) == sorted(f"<disk-{n}@corp.example>" for n in range(MESSAGES))
    assert all(n == 1 for n in after.values())
