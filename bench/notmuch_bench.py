"""``notmuch new`` over the same mail as the import: issue 18's outside yardstick for ingest speed.

notmuch (Xapian, C++) indexes a Maildir, so the corpus's mbox files are written out once as a
Maildir under the bench work directory (cached, one file per message, named by the From_ line's
time as a delivery agent would) and the Xapian database goes to a fresh directory beside it for
every run. CJK n-grams stay off (Xapian's default; ``XAPIAN_CJK_NGRAM`` is removed from the
environment): with them notmuch is ~5x slower. Debian's package is installed by ``make bench``.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

from bench.backends import Unavailable
from server.indexing.mailreaders import read_mbox

_CONFIG = """[database]
path={db}
mail_root={maildir}
[user]
name=Bench
primary_email=bench@example.com
[new]
tags=inbox
ignore=
[search]
exclude_tags=
[maildir]
synchronize_flags=false
"""


def maildir_of(paths: list[Path], work: Path, size: int, seed: int) -> Path:
    """The corpus as a Maildir (built once; a ``.complete`` marker says it is whole)."""
    root = work / f"maildir-{size}-s{seed}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    n = 0
    for path in paths:
        messages = read_mbox(path) if path.is_file() else ((p.read_bytes(), None) for p in sorted(path.rglob("*")) if p.is_file())
        for raw, when in messages:
            n += 1
            stamp = int(when.timestamp()) if when else 0
            (root / "cur" / f"{stamp}.{n:08d}.bench:2,S").write_bytes(raw)
    (root / ".complete").write_text(f"{n}\n")
    return root


def notmuch_stage(paths: list[Path], work: Path, size: int, seed: int, skip: set[str]) -> dict:
    if "notmuch" in skip:
        return {"skipped": "--skip notmuch"}
    binary = shutil.which("notmuch")
    if binary is None:
        raise Unavailable("notmuch is not installed (Debian package notmuch; `make bench` installs it)")
    maildir = maildir_of(paths, work, size, seed)
    db = work / f"notmuch-db-{size}"
    shutil.rmtree(db, ignore_errors=True)
    db.mkdir(parents=True)
    config = db.parent / f"notmuch-{size}.config"
    config.write_text(_CONFIG.format(db=db, maildir=maildir))
    env = {k: v for k, v in os.environ.items() if k != "XAPIAN_CJK_NGRAM"} | {"NOTMUCH_CONFIG": str(config)}
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([binary, "new", "--quiet"], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"notmuch new exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    count = int(subprocess.run([binary, "count", "*"], env=env, capture_output=True, text=True, check=True).stdout)
    files = int((maildir / ".complete").read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    db_bytes = sum(p.stat().st_size for p in db.rglob("*") if p.is_file())
    shutil.rmtree(db, ignore_errors=True)
    return {
        "version": version, "files": files, "messages_indexed": count, "seconds": round(seconds, 2),
        "msg_per_s": round(files / seconds, 1), "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_msg": round(cpu * 1000 / files, 3), "database_bytes": db_bytes,
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "note": "files per second of wall clock (notmuch indexes each file; duplicates by Message-ID are merged)",
    }
