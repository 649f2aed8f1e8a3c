"""``mailarchive import``: real .eml, mbox and Maildir files on disk, idempotence, resuming after kill -9."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.cli import main
from server.indexing.importer import print_summary, run_import
from server.indexing.mailreaders import ImportPathError, discover, read_mbox
from server.store import open_store
from server.store.sqlite import SqliteStore
from tests.support.cli import cli_archive
from tests.support.ingest import find, sqlite_store
from tests.support.mail import make_mail, mbox_of

store = pytest.fixture(sqlite_store)
ROOT = Path(__file__).resolve().parents[2]


def write_tree(base: Path) -> dict[str, bytes]:
    """eml files in nested directories, an mbox, a Maildir with a Maildir++ subfolder, and a README."""
    mails = {f"m{n}": make_mail(subject=f"Tree message m{n}", body=f"From here on, number {n}\n") for n in range(9)}
    (base / "a" / "b").mkdir(parents=True)
    (base / "a" / "one.eml").write_bytes(mails["m0"])
    (base / "a" / "b" / "two.eml").write_bytes(mails["m1"])
    (base / "a" / "b" / "README.md").write_text("# not mail\n")
    (base / "box.mbox").write_bytes(mbox_of([mails["m2"], mails["m3"], mails["m4"]]))
    for folder, names in ((base / "Maildir", ("m5", "m6")), (base / "Maildir" / ".Sent", ("m7", "m8"))):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for number, name in enumerate(names):
            (folder / ("cur" if number else "new") / f"1710408473.{name}.host:2,S").write_bytes(mails[name])  # delivered a minute after the Date
    return mails


def test_discover_finds_every_kind_and_skips_non_mail(tmp_path):
    write_tree(tmp_path)
    sources, skipped = discover([tmp_path])
    kinds = sorted((s.path.relative_to(tmp_path).parts[0], s.kind) for s in sources)
    assert kinds == [("Maildir", "maildir")] * 4 + [("a", "eml")] * 2 + [("box.mbox", "mbox")]
    assert skipped == 1
    with pytest.raises(ImportPathError, match="no such file"):
        discover([tmp_path / "missing"])


def test_mbox_reader_unquotes_and_keeps_unmunged_from_lines(tmp_path):
    first = make_mail(subject="one", body="From the start\n>From quoted\n")
    path = tmp_path / "x.mbox"
    path.write_bytes(mbox_of([first, make_mail(subject="two")]) + b"From Russia with love, not a separator\n")
    (one, when), (two, _) = read_mbox(path)
    assert one == first.replace(b"\r\n", b"\n")  # mboxrd quoting undone, line endings as stored
    assert b"From Russia with love" in two
    assert when == datetime(2024, 3, 14, 9, 26, 53, tzinfo=UTC)  # the From_ line's time


def test_messages_without_date_get_the_delivery_time_of_their_mailbox(tmp_path, store, config):
    undated = [make_mail(subject=f"Undated {n}", date=None) for n in range(2)]
    (tmp_path / "x.mbox").write_bytes(mbox_of(undated[:1]))
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "md" / sub).mkdir(parents=True)
    (tmp_path / "md" / "cur" / "1600000000.M1P2.host:2,S").write_bytes(undated[1])
    run_import([str(tmp_path)], store, config, workers=1)
    assert find(store, keyword="undated 0")[0].date == datetime(2024, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert find(store, keyword="undated 1")[0].date == datetime.fromtimestamp(1600000000, UTC)


def test_import_tree_then_reimport_adds_nothing(tmp_path, store, config):
    mails = write_tree(tmp_path / "mail")
    first = run_import([str(tmp_path / "mail")], store, config, workers=2)
    assert (first.files, first.skipped_files, first.read, first.archived) == (7, 1, 9, 9)
    for name, raw in mails.items():
        [found] = find(store, keyword=f"tree message {name}")
        expected = raw.replace(b"\r\n", b"\n") if name in ("m2", "m3", "m4") else raw  # mbox stores LF
        assert store.get_raw(found.sha256) == expected
    again = run_import([str(tmp_path / "mail")], store, config, workers=1)
    assert (again.read, again.archived, again.duplicates) == (6, 0, 6)
    assert (again.already_imported_files, again.already_imported_messages) == (1, 3)  # the complete mbox
    assert store.count() == 9


def test_a_completed_mbox_is_read_again_only_if_it_changed_or_for_another_mailbox(tmp_path, store, config):
    box = tmp_path / "box.mbox"
    box.write_bytes(mbox_of([make_mail(subject=f"Box {n}") for n in range(3)]))
    assert run_import([str(box)], store, config, workers=1).archived == 3
    assert run_import([str(box)], store, config, workers=1).already_imported_messages == 3
    other = run_import([str(box)], store, config, mailbox="ann@corp.example", workers=1)
    assert (other.read, other.merged) == (3, 3)
    with box.open("ab") as fh:
        fh.write(mbox_of([make_mail(subject="Box 3")]))
    grown = run_import([str(box)], store, config, workers=1)
    assert (grown.read, grown.archived, grown.duplicates, grown.already_imported_files) == (4, 1, 3, 0)


def test_mailbox_option_adds_the_mailbox_and_merges_with_existing_copies(tmp_path, store, config):
    raw = make_mail(subject="Shared", sender="x@partner.example", to=["y@partner.example"])
    (tmp_path / "a.eml").write_bytes(raw)
    assert run_import([str(tmp_path / "a.eml")], store, config, workers=1).archived == 1
    summary = run_import([str(tmp_path / "a.eml")], store, config, mailbox="ann@corp.example", workers=1)
    assert summary.merged == 1
    assert find(store, mailbox="ann@corp.example")[0].mailboxes == ["ann@corp.example"]


def test_malformed_files_are_archived_and_counted(tmp_path, store, config):
    broken = b"Subject: broken\r\nContent-Type: multipart/mixed\r\n\r\nno boundary anywhere \xff\xfe\r\n"
    (tmp_path / "broken.eml").write_bytes(broken)
    summary = run_import([str(tmp_path)], store, config, workers=1)
    assert (summary.archived, summary.malformed) == (1, 1)
    [found] = find(store, keyword="broken")
    assert found.parse_errors and store.get_raw(found.sha256) == broken


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # a hang guard, not a speed check: 3,000 messages took over 120 s at nice 10 with the machine at load 20
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def cli_env(config) -> dict[str, str]:
    """The environment of a ``mailarchive`` subprocess on ``config``'s archive (created here)."""
    open_store(config).close()
    return {**os.environ, "MAILARCHIVE_DATA_DIR": str(config.data_dir), "MAILARCHIVE_STORE": "sqlite",
            "MAILARCHIVE_CONFIG": "none"}


def test_cli_json_summary_and_bad_input(tmp_path, config, capsys, monkeypatch):
    write_tree(tmp_path / "mail")
    env = cli_env(config)
    cli_archive(monkeypatch, config.data_dir)  # the in-process calls below use the same archive
    done = run_cli("import", str(tmp_path / "mail"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert {k: summary[k] for k in ("read", "archived", "duplicates", "skipped_by_rule", "malformed")} == {
        "read": 9, "archived": 9, "duplicates": 0, "skipped_by_rule": 0, "malformed": 0}
    assert main(["import", str(tmp_path / "nowhere")]) == 2
    assert main(["import", str(tmp_path / "mail"), "--mailbox", "not-an-address"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such file or directory" in err[0] and "--mailbox" in err[1]


@pytest.mark.timeout(1200)
def test_killed_import_resumes_with_everything_archived_once(tmp_path, config):
    count = 3000
    # 40 recipients (and as many domains) a message: ~100 changed rows each, so the bulk import's
    # first commit group (GROUP_CHANGES rows) ends after ~2,000 messages, well before the last
    to = [f"r{k}@d{k}.example" for k in range(40)]
    messages = [make_mail(subject=f"Bulk {n}", body=f"bulk body {n}\n" * 40, to=to) for n in range(count)]
    (tmp_path / "big.mbox").write_bytes(mbox_of(messages))
    env = cli_env(config)
    proc = subprocess.Popen([sys.executable, "-m", "server", "import", str(tmp_path / "big.mbox"), "--json"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    reader = SqliteStore.from_config(config)
    try:
        deadline = time.monotonic() + 300  # the first commit group must be stored before the kill
        while proc.poll() is None and time.monotonic() < deadline and _count(reader) < 400:
            time.sleep(0.02)
        assert proc.poll() is None, "import finished before it could be killed; raise the message count"
        os.killpg(proc.pid, signal.SIGKILL)  # the import and its parser processes
        proc.wait()
        assert 0 < _count(reader) < count
    finally:
        reader.close()
    done = run_cli("import", str(tmp_path / "big.mbox"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["read"] == count and summary["archived"] + summary["duplicates"] == count
    reader = SqliteStore.from_config(config)
    try:
        assert reader.count() == count
        assert len(find(reader, keyword="bulk")) == 1000  # find() pages at most 1000
    finally:
        reader.close()


def _count(store) -> int:
    try:
        return store.count()
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return 0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_on_a_terminal_and_silence_elsewhere(tmp_path, store, config):
    write_tree(tmp_path / "mail")
    screen, pipe = Terminal(), io.StringIO()
    summary = run_import([str(tmp_path / "mail")], store, config, workers=1, progress=screen)
    run_import([str(tmp_path / "mail")], store, config, workers=1, progress=pipe)
    last = screen.getvalue().split("\r")[-1]
    assert re.search(r"9 messages\s+[\d.]+/[\d.]+ MB\s+[\d,]+ msg/s\s+done", last) and last.endswith("\n")
    assert pipe.getvalue() == ""
    out = io.StringIO()
    print_summary(summary, out)
    assert "archived 9" in out.getvalue() and "malformed (archived with parse errors) 0" in out.getvalue()


def test_batches_are_bounded_by_count_and_bytes():
    from server.indexing.pipeline import RawItem, _batches

    items = [RawItem(b"x" * size) for size in (10, 10, 50, 10, 10, 10)]
    assert [len(b) for b in _batches(items, 3, 60)] == [3, 3]
    assert [len(b) for b in _batches(items, 2, 1000)] == [2, 2, 2]
    assert [len(b) for b in _batches(items, 10, 15)] == [2, 1, 2, 1]


def test_a_file_vanishing_during_the_import_is_counted_and_the_rest_imported(tmp_path, store):
    from server.indexing.checkpoints import FileTracker
    from server.indexing.importer import ImportSummary, Progress, _items
    from server.indexing.mailreaders import Source

    (tmp_path / "ok.eml").write_bytes(make_mail())
    sources = [Source(tmp_path / "gone.eml", "eml", 10), Source(tmp_path / "ok.eml", "eml", 10)]
    summary = ImportSummary()
    assert len(list(_items(sources, summary, FileTracker(store, sources, None), Progress(None, 20)))) == 1
    assert (summary.unreadable_files, summary.read) == (1, 1)


def test_attachment_names_of_nested_messages_and_cjk_names_are_searchable(tmp_path, store, config):
    from tests.support.mail import nested

    inner = make_mail(subject="Signed contract", attachments=[("合同终稿.pdf", b"%PDF-1.4", "application/pdf")])
    (tmp_path / "fwd.eml").write_bytes(nested("Fwd: contract", inner, name="contract-mail.eml"))
    run_import([str(tmp_path)], store, config, workers=1)
    [found] = find(store, keyword="终稿", scope="attachment")
    assert found.attachment_names == ["contract-mail.eml", "合同终稿.pdf"]
    assert find(store, keyword="contract mail", scope="attachment")[0].id == found.id
    assert find(store, keyword="终稿", scope="subject,body") == []
