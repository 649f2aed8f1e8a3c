"""The message generator: realistic office mail as raw bytes, deterministic for (seed, stream).

What makes it realistic enough for an archive benchmark: ~10 KB typical size with a long tail,
English/Chinese/mixed text, plain and multipart/alternative bodies in UTF-8 and GBK, threads
(In-Reply-To/References, quoted text), 20 % with attachments whose names use RFC 2047/2231 in
UTF-8, GB18030/GBK, Big5, ISO-2022-JP and Latin-1, department-wide announcements, one-to-many
journal copies that differ only in trace headers, and a few auto-replies, bounces, system
notices and spam.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from server.synthetic import mime, words
from server.synthetic.directory import Directory, Person
from server.synthetic.text import TextBank, to_html

# (charset, style, vocabulary) of attachment names, with weights: UTF-8 dominates, legacy
# charsets come from older clients in China, Taiwan/Hong Kong, Japan and Europe.
NAME_ENCODINGS = [
    (("utf-8", "2047B", "zh"), 30), (("utf-8", "2231", "zh"), 15), (("gb18030", "2047B", "zh"), 10),
    (("gbk", "2047B", "zh"), 8), (("gbk", "2231", "zh"), 4), (("big5", "2047B", "zh_trad"), 6),
    (("iso-2022-jp", "2047B", "ja"), 6), (("iso-8859-1", "2047Q", "latin1"), 5),
    (("iso-8859-1", "2231", "latin1"), 3), (("us-ascii", "plain", "en"), 13),
]
_NAME_VOCAB = {"zh": words.ZH_WORDS, "zh_trad": words.ZH_TRAD_WORDS, "ja": words.JA_WORDS,
               "latin1": words.LATIN1_WORDS, "en": words.EN_WORDS}
_ZONES = [timezone(timedelta(hours=8))] * 6 + [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=1))]


@dataclass(frozen=True)
class MailProfile:
    """Proportions of each kind of mail; the defaults are those the benchmark reports on."""

    attachment_ratio: float = 0.22  # of ordinary mail: ~20 % of all raw messages
    reply_ratio: float = 0.35
    html_ratio: float = 0.55
    announcement_ratio: float = 0.02  # to a whole department
    journal_copy_ratio: float = 0.05  # of multi-recipient mail, also journaled once per extra mailbox
    auto_reply_ratio: float = 0.01
    bounce_ratio: float = 0.005
    system_ratio: float = 0.01
    spam_ratio: float = 0.01
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    end: datetime = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


@dataclass
class _Thread:
    subject: str
    lang: str
    people: list[Person]
    references: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)


@dataclass
class _Draft:
    """One message being composed: headers in order, the rendered MIME entity, envelope data."""

    sender: Person
    to: list[Person]
    cc: list[Person] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    entity: str = ""


class MailGenerator:
    """Yields raw messages ``first``..``first+count-1`` of a corpus of ``total``; journal copies
    count as messages (they are what an archive receives)."""

    def __init__(self, directory: Directory, *, seed: int, stream: int, first: int, count: int, total: int,
                 profile: MailProfile | None = None) -> None:
        self.dir = directory
        self.rng = random.Random(f"mail:{seed}:{stream}")
        self.first, self.count, self.total = first, count, max(total, 1)
        self.profile = profile or MailProfile()
        self.text = TextBank(self.rng)
        self.threads: deque[_Thread] = deque(maxlen=400)
        self.departments = directory.by_department()
        self.seq = first

    # --- the stream ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[bytes]:
        end = self.first + self.count
        while self.seq < end:
            draft = self._compose()
            raw = self._render(draft)
            copies = self._journal_recipients(draft)
            for rcpt in copies[: end - self.seq]:
                yield self._trace(rcpt, draft) + raw
                self.seq += 1

    def _when(self) -> datetime:
        p = self.profile
        moment = p.start + (p.end - p.start) * (self.seq / self.total)
        return moment + timedelta(seconds=self.rng.uniform(-3600, 3600))

    def _journal_recipients(self, draft: _Draft) -> list[Person]:
        """The mailboxes this message is journaled for: one copy, or one per internal recipient."""
        internal = [p for p in draft.to + draft.cc if p.department]
        if len(internal) > 1 and self.rng.random() < self.profile.journal_copy_ratio * 4:
            return internal[: self.rng.randint(2, 4)]
        return [internal[0] if internal else draft.sender]

    def _trace(self, rcpt: Person, draft: _Draft) -> bytes:
        """Trace headers differ per journal copy; everything after them is byte-identical."""
        rng = self.rng
        hop = rng.randrange(1, 9)
        stamp = self._when().strftime("%a, %d %b %Y %H:%M:%S +0000")
        return (
            f"Return-Path: <{draft.sender.address}>\n"
            f"Delivered-To: {rcpt.address}\n"
            f"Received: from mx{hop}.{words.INTERNAL_DOMAINS[0]} (mx{hop}.{words.INTERNAL_DOMAINS[0]} "
            f"[10.{hop}.{rng.randrange(256)}.{rng.randrange(1, 255)}])\n\tby journal.{words.INTERNAL_DOMAINS[0]} "
            f"with ESMTPS id {rng.getrandbits(40):010X}\n\tfor <{rcpt.address}>; {stamp}\n"
        ).encode()

    # --- composition ----------------------------------------------------------------------------
    def _compose(self) -> _Draft:
        roll, p = self.rng.random(), self.profile
        special = [(p.auto_reply_ratio, self._auto_reply), (p.bounce_ratio, self._bounce),
                   (p.system_ratio, self._system_notice), (p.spam_ratio, self._spam),
                   (p.announcement_ratio, self._announcement)]
        for ratio, make in special:
            if roll < ratio:
                return make()
            roll -= ratio
        if self.threads and self.rng.random() < p.reply_ratio:
            return self._reply(self.rng.choice(self.threads))
        return self._new_thread()

    def _person(self, internal: bool) -> Person:
        return self.rng.choice(self.dir.accounts if internal else self.dir.externals)

    def _new_thread(self) -> _Draft:
        rng = self.rng
        lang = rng.choices(["en", "zh", "mixed"], [55, 30, 15])[0]
        sender = self._person(internal=rng.random() < 0.7)
        to = [self._person(internal=rng.random() < 0.75) for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))]
        cc = [self._person(internal=True) for _ in range(rng.choice([0, 0, 0, 1, 2, 4]))]
        if not sender.department and not any(x.department for x in to):
            to[0] = self._person(internal=True)  # the archive only journals mail touching the company
        thread = _Thread(self.text.subject(lang), lang, [sender, *to, *cc])
        self.threads.append(thread)
        return self._message(thread, sender, to, cc, reply=False)

    def _reply(self, thread: _Thread) -> _Draft:
        rng = self.rng
        sender = rng.choice(thread.people)
        others = [x for x in thread.people if x is not sender] or [self._person(internal=True)]
        to = others[:1]
        cc = others[1 : 1 + rng.randrange(3)]
        return self._message(thread, sender, to, cc, reply=True)

    def _announcement(self) -> _Draft:
        department = self.rng.choice(list(self.departments))
        members = self.departments[department][:60]
        thread = _Thread(f"[{department}] " + self.text.subject("en"), "en", members)
        return self._message(thread, self._person(internal=True), members, [], reply=False)

    def _message(self, thread: _Thread, sender: Person, to: list[Person], cc: list[Person], *, reply: bool) -> _Draft:
        rng = self.rng
        legacy = thread.lang != "en" and rng.random() < 0.15  # Foxmail and older Outlook in China
        charset = rng.choice(["gbk", "gb18030"]) if legacy else "utf-8"
        prefix = ("回复: " if thread.lang == "zh" else "RE: ") if reply else ""
        draft = _Draft(sender, to, cc)
        msgid = self._msgid(sender) if rng.random() > 0.003 else None  # a few clients omit it
        self._envelope_headers(draft, prefix + thread.subject, charset, msgid)
        if reply and thread.references:
            draft.headers.append(("In-Reply-To", thread.references[-1]))
            draft.headers.append(("References", "\n\t".join(thread.references[-8:])))
        paragraphs = self._body_paragraphs(thread, sender, to[0], reply)
        if msgid:
            thread.references.append(msgid)
        thread.quoted = "\n".join(paragraphs).split("\n")[:12]
        draft.entity = self._entity(paragraphs, charset, thread.lang)
        return draft

    def _envelope_headers(self, draft: _Draft, subject: str, charset: str, msgid: str | None) -> None:
        rng = self.rng
        h = draft.headers
        h.append(("From", mime.address(draft.sender.name, draft.sender.address, charset)))
        h.append(("To", mime.address_list([(p.name, p.address) for p in draft.to], charset)))
        if draft.cc:
            h.append(("Cc", mime.address_list([(p.name, p.address) for p in draft.cc], charset)))
        h.append(("Subject", mime.header_text(subject, charset)))
        h.append(("Date", self._when().astimezone(rng.choice(_ZONES)).strftime("%a, %d %b %Y %H:%M:%S %z")))
        if msgid:
            h.append(("Message-ID", msgid))
        h.append(("MIME-Version", "1.0"))
        mailer = rng.choice(words.MAILERS)
        if mailer:
            h.append(("X-Mailer", mailer))

    def _body_paragraphs(self, thread: _Thread, sender: Person, to: Person, reply: bool) -> list[str]:
        rng = self.rng
        chars = min(int(rng.lognormvariate(7.0, 0.7)), 30_000)  # median ~1.1 k characters
        greeting = f"{to.name}，您好：" if thread.lang == "zh" else f"Hi {to.name.split(' ')[0]},"
        paragraphs = [greeting, *self.text.paragraphs(thread.lang, chars)]
        paragraphs.append(f"--\n{sender.name}\n{sender.department or 'External'}\nTel: {self.text.reference()}")
        if reply and thread.quoted:
            paragraphs.append("> " + "\n> ".join(thread.quoted))
        return paragraphs

    def _entity(self, paragraphs: list[str], charset: str, lang: str) -> str:
        rng = self.rng
        plain = "\n\n".join(paragraphs)
        if lang == "en":
            cte = "7bit"
        elif charset != "utf-8":
            cte = "base64"
        else:
            cte = rng.choices(["base64", "quoted-printable", "8bit"], [5, 4, 1])[0]
        body = mime.text_part(plain, "plain", charset, cte)
        if rng.random() < self.profile.html_ratio:
            link = f"https://portal.{words.INTERNAL_DOMAINS[0]}/doc/{rng.getrandbits(32):08x}"
            html = mime.text_part(to_html(paragraphs, charset, link), "html", charset,
                                  "quoted-printable" if cte != "base64" else "base64")
            body = mime.multipart("alternative", self._boundary(), [body, html])
        if rng.random() < self.profile.attachment_ratio:
            body = mime.multipart("mixed", self._boundary(), [body, *self._attachments()])
        return body

    def _msgid(self, sender: Person) -> str:
        return f"<{self.rng.getrandbits(64):016x}.{self.seq}@{sender.address.split('@')[1]}>"

    def _boundary(self) -> str:
        return f"----=_Part_{self.rng.getrandbits(48):012x}_{self.seq}"

    def _attachments(self) -> list[str]:
        rng = self.rng
        parts = []
        for _ in range(rng.choice([1, 1, 1, 1, 2, 2, 3])):
            (charset, style, vocab), = rng.choices(*zip(*NAME_ENCODINGS, strict=True))
            stem_words = rng.choices(_NAME_VOCAB[vocab], k=rng.randint(2, 4))
            stem = ("_" if vocab in ("en", "latin1") else "").join(stem_words)
            ext, ctype = rng.choice(words.ATTACHMENT_TYPES)
            name = f"{stem}_{rng.randint(2019, 2026)}{rng.randint(1, 12):02d}.{ext}"
            size = min(int(rng.lognormvariate(8.5, 1.0)), 2_000_000)  # median ~5 KB
            if ext in ("csv", "txt"):
                payload = "\n".join(self.text.sentences("en", max(size // 80, 1))).encode()
            else:
                payload = rng.randbytes(size)
            if ext == "zip":  # a real archive (one stored member), so a .zip opens; the same random draws
                payload = _zip_of(f"{stem}.bin", payload)
            parts.append(mime.attachment_part(name, charset, style, ctype, payload))
        return parts

    # --- the odd ones every archive holds ----------------------------------------------------
    def _flagged(self, sender: Person, to: list[Person], subject: str, extra: list[tuple[str, str]],
                 entity: str) -> _Draft:
        draft = _Draft(sender, to)
        self._envelope_headers(draft, subject, "utf-8", self._msgid(sender))
        draft.headers.extend(extra)
        draft.entity = entity
        return draft

    def _auto_reply(self) -> _Draft:
        me = self._person(internal=True)
        zh = self.rng.random() < 0.5
        subject = ("自动回复: " if zh else "Automatic reply: ") + self.text.subject("zh" if zh else "en")
        body = "我正在休假，将于下周一返回办公室。紧急事务请联系我的同事。" if zh else \
            "I am out of the office until Monday with limited access to email."
        return self._flagged(me, [self._person(internal=False)], subject,
                             [("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")],
                             mime.text_part(body, "plain", "utf-8", "base64"))

    def _bounce(self) -> _Draft:
        victim = self._person(internal=True)
        daemon = Person(f"mailer-daemon@{words.INTERNAL_DOMAINS[0]}", "Mail Delivery System")
        lost = self._person(internal=False).address.replace("@", ".nosuchuser@", 1)
        report = (
            "Content-Type: message/delivery-status\n\n"
            f"Reporting-MTA: dns; mx1.{words.INTERNAL_DOMAINS[0]}\n\n"
            f"Final-Recipient: rfc822; {lost}\nAction: failed\nStatus: 5.1.1\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{lost}>: Recipient address rejected: User unknown\n"
        )
        notice = mime.text_part(f"This is the mail system. Your message to <{lost}> could not be delivered.",
                                "plain", "us-ascii", "7bit")
        headers = f"Content-Type: text/rfc822-headers\n\nFrom: {victim.address}\nTo: {lost}\nSubject: order\n"
        entity = mime.multipart("report", self._boundary(), [notice, report, headers],
                                extra=" report-type=delivery-status;")
        return self._flagged(daemon, [victim], "Undelivered Mail Returned to Sender",
                             [("Auto-Submitted", "auto-replied")], entity)

    def _system_notice(self) -> _Draft:
        system = Person(f"noreply@{words.INTERNAL_DOMAINS[0]}", "OA System")
        subject = f"[OA] 审批提醒 Approval pending: {self.text.reference()}"
        body = "\n".join(self.text.sentences("mixed", 4))
        return self._flagged(system, [self._person(internal=True)], subject,
                             [("Auto-Submitted", "auto-generated"), ("Precedence", "bulk")],
                             mime.text_part(body, "plain", "utf-8", "base64"))

    def _spam(self) -> _Draft:
        rng = self.rng
        spammer = Person(f"offers{rng.randrange(1000)}@deals-{rng.randrange(100)}.example.biz", "Best Deals")
        score = rng.uniform(6, 25)
        link = f"http://deals-{rng.randrange(100)}.example.biz/win?id={rng.getrandbits(32)}"
        body = to_html(["Congratulations! You have been selected.", "发票代开 优惠 限时"], "utf-8", link)
        return self._flagged(spammer, [self._person(internal=True)], "发票 Special offer just for you",
                             [("X-Spam-Flag", "YES"), ("X-Spam-Status", f"Yes, score={score:.1f} required=5.0"),
                              ("X-Spam-Level", "*" * int(score))],
                             mime.text_part(body, "html", "utf-8", "quoted-printable"))

    # --- rendering ------------------------------------------------------------------------------
    @staticmethod
    def _render(draft: _Draft) -> bytes:
        head = "".join(f"{name}: {value}\n" for name, value in draft.headers)
        return (head + draft.entity).encode("utf-8")


def _zip_of(member: str, data: bytes) -> bytes:
    """A zip holding ``data`` as ``member``, dated at a fixed time so the corpus stays reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return out.getvalue()
