"""Putting mail and the directory into the archive on an administrator's request: imports of mail
files, the sample data, the company directory file.

An import runs for minutes, so it is audited when it starts (before anything is written) and once
more with its outcome (counts, ``failure`` if files or messages failed): the one exception to "one
entry per call", because an entry written only at the start could not say what was archived.
Journal mail arriving over SMTP is not an administrator action and is not audited per message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from server.audit.operations import Op, Result
from server.demo import DemoSummary, load_demo_data
from server.indexing.directoryfile import read_directory_file
from server.indexing.importer import ImportSummary, run_import
from server.indexing.mailreaders import discover
from server.model import Account
from server.services.actor import ARCHIVE_READERS, Actor
from server.services.errors import Forbidden, InvalidInput, Unavailable

if TYPE_CHECKING:
    from pathlib import Path

    from server.services.context import Services

log = logging.getLogger(__name__)
MAX_DEMO = 1_000_000


def _readable(path: str) -> str:
    """A path as the log can record it: file names that are not UTF-8 (a Latin-1 ``café`` from an old
    Windows share) arrive surrogate-escaped, which JSON text cannot hold; their bytes are written
    as ``\\xe9`` escapes instead, so the entry names the file exactly and the import goes ahead."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class Ingest:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def import_files(self, actor: Actor, paths: Sequence[str], *, mailbox: str | None = None,
                     workers: int | None = None, progress: TextIO | None = None) -> ImportSummary:  # fmt: skip
        """Archive .eml, mbox and Maildir under ``paths`` (whatever the archiving switch says)."""
        shown = [_readable(p) for p in paths]
        target = ", ".join(shown)[:1000]
        with self.svc.audited(actor, Op.IMPORT, target, details={"paths": shown, "mailbox": mailbox}) as entry:
            self._may_import(actor)
            mailbox = _mailbox(mailbox)
            discover(paths)  # a bad path is bad input: refused before anything is written
            entry.done(phase="start", mailbox=mailbox)
        summary = run_import(paths, self.svc.store, self.svc.config, mailbox=mailbox, workers=workers, progress=progress)
        result = Result.FAILURE if summary.failed or summary.unreadable_files else Result.SUCCESS
        self._outcome(actor, target, {"phase": "done", "mailbox": mailbox, **summary.to_dict()}, result)
        return summary

    def demo_data(self, actor: Actor, *, count: int, seed: int = 7) -> DemoSummary:
        """Generated sample mail (an import like any other, so audited before anything is written)."""
        with self.svc.audited(actor, Op.IMPORT, "demo-data", details={"count": count, "seed": seed}) as entry:
            self._may_import(actor)
            if not 1 <= count <= MAX_DEMO:
                raise InvalidInput(f"--count must be from 1 to {MAX_DEMO}, got {count}")
            entry.done(phase="start")
            return load_demo_data(self.svc.store, self.svc.config, count=count, seed=seed)

    def directory(self, actor: Actor, path: Path) -> tuple[int, int]:
        """Upsert the accounts of a directory file; (accounts written, departments now known)."""
        with self.svc.audited(actor, Op.DIRECTORY_IMPORT, str(path)) as entry:
            if not actor.is_operator:
                raise Forbidden("the directory is loaded by the operator on the server")
            accounts: list[Account] = read_directory_file(path)
            entry.done(accounts=len(accounts), departments=len({a.department for a in accounts if a.department}))
            written = self.svc.store.upsert_accounts(accounts)
            return written, len(self.svc.store.list_departments())

    def _outcome(self, actor: Actor, target: str, details: dict, result: str) -> None:
        """The import happened; if its outcome cannot be recorded the caller must hear it."""
        try:
            self.svc.write_entry(actor, Op.IMPORT, target, details, result)
        except Unavailable as exc:
            log.error("the import finished but its outcome entry was not written: %s", exc.message)
            raise Unavailable(f"the import finished but its audit entry could not be written: {exc.message}") from exc

    @staticmethod
    def _may_import(actor: Actor) -> None:
        if not actor.may(*ARCHIVE_READERS):
            raise Forbidden("only an archive administrator imports mail")


def _mailbox(value: str | None) -> str | None:
    mailbox = (value or "").strip().lower() or None
    if mailbox is not None and ("@" not in mailbox or " " in mailbox):
        raise InvalidInput(f"--mailbox must be an e-mail address, got {value!r}")
    return mailbox
