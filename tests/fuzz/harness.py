"""Drive fuzzed mail through the real entry points and account for every message.

``import_run`` writes the messages as ``.eml`` files and runs ``python -m server import DIR --json``
(the operator's command, in its own process, with a wall-clock limit: a hang fails the run);
``smtp_run`` sends them through a real SMTP session (smtplib) to the journal receiver with its spool
and drainer. Afterwards ``account`` looks every message up in the store: its exact bytes must be the
blob under its SHA-256 (``archived``), or the archive holds the same message under the same dedupe id
from an identical earlier copy (``deduplicated``), or the entry point refused it with a reason
(``refused``). Anything else is ``lost`` and fails the run. ``parse_times`` runs the parser over every
message in this process for the slowest figures (and to catch a parser exception outright).
"""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from server.config import Config
from server.indexing.parse import parse
from server.store import open_store

ROOT = Path(__file__).resolve().parents[2]
Sent = tuple[int, str, bytes]  # (index, kind, raw) as tests.fuzz.messages yields them


@dataclass
class FuzzReport:
    """What one run did with its messages; ``lost`` must be empty."""

    entry: str
    generated: int = 0
    archived: int = 0
    deduplicated: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> count
    lost: list[str] = field(default_factory=list)  # "index kind: what is wrong"
    with_parse_errors: int = 0  # parse() here (parse_times): the same for both entry points
    parse_budget_exceeded: int = 0
    stored_with_parse_errors: int = 0  # what this entry point's ingest recorded (stored_notes)
    stored_over_budget: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    slowest_parse: list[tuple] = field(default_factory=list)  # (CPU seconds, wall seconds, index, kind)
    seconds: float = 0.0

    def add(self, other: FuzzReport) -> None:
        """Count ``other`` (a later chunk of the same run, accounted on its own) into this report."""
        for name in ("generated", "archived", "deduplicated", "with_parse_errors", "parse_budget_exceeded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.refused, other.refused), (self.by_kind, other.by_kind)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.lost.extend(other.lost)
        self.slowest_parse = sorted([*self.slowest_parse, *other.slowest_parse], reverse=True)[:10]
        self.seconds = round(self.seconds + other.seconds, 1)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lost"] = self.lost[:50]
        data["lost_count"] = len(self.lost)
        return data


def parse_times(messages: Sequence[Sent], report: FuzzReport, keep: int = 5) -> None:
    """Parse each message here, timing it (CPU time, which the budget counts, and wall time); an exception
    from ``parse`` (which must never raise) is lost mail. Adds to ``report`` (runs in chunks call it per chunk)."""
    times = []
    for index, kind, raw in messages:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            mail = parse(raw)
        except Exception as exc:  # noqa: BLE001 - recorded, the run then fails
            report.lost.append(f"{index} {kind}: parse raised {type(exc).__name__}: {exc}")
            continue
        times.append((round(time.thread_time() - cpu, 4), round(time.perf_counter() - started, 4), index, kind))
        report.with_parse_errors += bool(mail.parse_errors)
        report.parse_budget_exceeded += any("time budget" in e for e in mail.parse_errors)
    report.slowest_parse = sorted([*report.slowest_parse, *times], reverse=True)[:keep]


def account(config: Config, messages: Sequence[Sent], refused: dict[int, str], report: FuzzReport) -> None:
    """Look each message up in the store (see the module docstring for the verdicts)."""
    store = open_store(config)
    try:
        store.refresh()
        refused_reasons: Counter = Counter()
        for index, kind, raw in messages:
            report.generated += 1
            report.by_kind[kind.split("+")[0]] = report.by_kind.get(kind.split("+")[0], 0) + 1
            if index in refused:
                refused_reasons[refused[index]] += 1
                continue
            blob = store.get_raw(hashlib.sha256(raw).hexdigest())
            if blob == raw:
                report.archived += 1
            elif blob is not None:
                report.lost.append(f"{index} {kind}: the blob under its SHA-256 holds other bytes")
            elif store.get_message(parse(raw).id) is not None:
                report.deduplicated += 1
            else:
                report.lost.append(f"{index} {kind}: neither archived nor refused ({len(raw)} bytes)")
        report.refused = dict(refused_reasons)
    finally:
        store.close()


def stored_notes(config: Config, report: FuzzReport) -> None:
    """Count the archived messages whose ingest recorded parse errors, and those over the parse budget:
    the figures of this entry point's own parser processes (import) or spool drainer (SMTP)."""
    store = open_store(config)
    try:
        seq = 0
        while page := store.scan_archived(seq, 1000):
            for msg in page:
                report.stored_with_parse_errors += bool(msg.parse_errors)
                report.stored_over_budget += any("time budget" in e for e in msg.parse_errors)
            seq = page[-1].archive_seq
    finally:
        store.close()


def command_env(config: Config) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")}
    env.update({"MAILARCHIVE_DATA_DIR": str(config.data_dir), "MAILARCHIVE_CONFIG": "none",
                "MAILARCHIVE_STORE": config.store.url if hasattr(config.store, "url") else "sqlite"})
    return env


def import_run(config: Config, messages: Sequence[Sent], work: Path, *, timeout: float) -> FuzzReport:
    """Every message as one ``.eml`` file, then one ``mailarchive import`` of the directory."""
    report = FuzzReport("import")
    open_store(config).close()  # the archive exists, as after `mailarchive serve`; import refuses an empty dir
    folder = work / "fuzz-eml"
    folder.mkdir(parents=True, exist_ok=True)
    for index, _, raw in messages:
        (folder / f"{index:06d}.eml").write_bytes(raw)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "server", "import", str(folder), "--json"], cwd=ROOT,
                          env=command_env(config), capture_output=True, text=True, timeout=timeout, check=False)
    report.seconds = round(time.monotonic() - started, 1)
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        report.lost.append(f"import exited {proc.returncode}: {proc.stderr[-2000:]}")
        return report
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    account(config, messages, {}, report)
    if summary.get("failed"):
        report.lost.append(f"import reported {summary['failed']} failed messages: {proc.stderr[-2000:]}")
    return report


def smtp_send(port: int, messages: Iterable[Sent]) -> dict[int, str]:
    """Send each message in one session (reconnecting after the server drops it); returns the refused ones."""
    refused: dict[int, str] = {}
    smtp: smtplib.SMTP | None = None
    for index, _, raw in messages:
        try:
            if smtp is None:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
            smtp.sendmail("fuzz@corp.example", ["archive@corp.example"], raw)
        except smtplib.SMTPResponseException as exc:
            refused[index] = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')[:80]}"
            smtp = _reset(smtp)
        except smtplib.SMTPServerDisconnected:
            refused[index] = "disconnected"
            smtp = None
    if smtp is not None:
        smtp.quit()
    return refused


def _reset(smtp: smtplib.SMTP | None) -> smtplib.SMTP | None:
    try:
        if smtp is not None:
            smtp.rset()
        return smtp
    except (smtplib.SMTPException, OSError):
        return None


def smtp_payload(raw: bytes) -> bytes:
    """The bytes smtplib puts between DATA and the final dot, unstuffed: ``raw`` plus a CRLF if it lacks one."""
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"
