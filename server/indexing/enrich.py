"""ParsedMail + envelope + settings + directory -> the ``Message`` document to archive.

Mailboxes (DESIGN.md §3) are the internal sender and internal recipients, envelope recipients
included. An address is internal if its domain (or a parent domain) is one of the configured
internal domains, or if the directory knows it: a directory entry is the company's word that the
mailbox exists, whatever its domain. Departments are those of the mailboxes' accounts at archive
time, whatever the account's status (rules 10-11: disabled or deleted accounts keep their mail).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from server.archiving import ArchiveSettings
from server.indexing import dates
from server.indexing.parse import ParsedMail, attachment_names
from server.indexing.rules import flags
from server.model import Account, Message, department_ancestors, normalize_department
from server.store.protocol import Store


def clean_addresses(addresses: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(a.strip().strip("<>").lower() for a in addresses if a and a.strip().strip("<>")))


def add_years(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February -> 1 March
        return when.replace(year=when.year + years, month=3, day=1)


def retention_until(received_at: datetime, years: int) -> datetime | None:
    """From the archive's own arrival time, never the sender's Date header (a Date of 1981 would
    expire mail at once, a Date of 9999 never)."""
    try:
        return add_years(received_at, years)
    except (ValueError, OverflowError):  # a date near year 9999
        return None


class Enricher:
    """Builds Messages for one batch; the directory is read once per batch (one ``get_accounts`` call)."""

    def __init__(self, store: Store, settings: ArchiveSettings, mails: Sequence[tuple[ParsedMail, Sequence[str]]],
                 extra_mailboxes: Sequence[str] = ()) -> None:
        self.settings = settings
        self.extra = clean_addresses(extra_mailboxes)
        self.monitors = set(settings.monitoring_addresses)
        wanted = {a for mail, env in mails for a in (mail.sender, *mail.to, *mail.cc, *mail.bcc, *env) if a}
        self.accounts: dict[str, Account] = store.get_accounts(sorted(wanted | set(self.extra))) if wanted or self.extra else {}

    def is_internal(self, address: str) -> bool:
        if address in self.accounts:
            return True
        domain = address.rpartition("@")[2]
        return bool(domain) and any(domain == d or domain.endswith("." + d) for d in self.settings.internal_domains)

    def message(self, mail: ParsedMail, *, arrival: datetime, received_at: datetime,
                envelope_from: str | None = None, envelope_to: Sequence[str] = ()) -> Message:
        """``arrival``: now (archived_at); ``received_at``: the archive-side arrival time (``dates``),
        which the search date is checked against and retention counts from."""
        errors = list(mail.parse_errors)
        date = dates.search_date(mail.date, received_at, errors)
        envelope = [a for a in clean_addresses(envelope_to) if a not in self.monitors]
        sender = mail.sender or (clean_addresses([envelope_from])[0] if envelope_from and envelope_from.strip("<> ") else "")
        visible = set(mail.to) | set(mail.cc)
        bcc = clean_addresses([*mail.bcc, *(a for a in envelope if a not in visible)])
        recipients = clean_addresses([*mail.to, *mail.cc, *bcc])
        internal = [a for a in clean_addresses([sender, *recipients]) if a not in self.monitors and self.is_internal(a)]
        mailboxes = clean_addresses([*internal, *self.extra])  # the import's mailbox, whatever its domain
        departments = sorted({d for a in mailboxes if (d := normalize_department(self._department(a)))})
        return Message(
            id=mail.id, sha256=mail.sha256, date=date, received_at=received_at, archived_at=arrival, size=mail.size,
            message_id=mail.message_id, subject=mail.subject, sender=sender, sender_name=mail.sender_name,
            recipients=recipients, to=list(mail.to), cc=list(mail.cc), bcc=bcc, body_text=mail.body_text,
            attachment_names=attachment_names(mail), attachments=list(mail.attachments), mailboxes=mailboxes,
            flags=flags(mail), departments=departments, department_paths=sorted({p for d in departments for p in department_ancestors(d)}),
            retention_until=retention_until(received_at, self.settings.retention_years), parse_errors=errors,
        )

    def _department(self, address: str) -> str:
        account = self.accounts.get(address)
        return account.department if account else ""
