"""server/display and server/audit/detail_fields directly: what the console says about hard mail."""

from __future__ import annotations

from pathlib import Path

from server.audit.detail_fields import detail_fields
from server.display.dsn import delivery_report
from server.display.labels import first_words, title
from server.display.problems import MEANINGS, UNKNOWN, explain
from server.display.source import OLE_SIGNATURE, is_outlook_msg, source_text
from server.indexing.parse import parse
from server.mailview import parse_tree
from server.model import Message
from server.web.i18n import catalog
from tests.conformance.factory import make


def msg(subject: str = "", body: str = "", **fields: object) -> Message:
    """A message with a Message-ID unless told otherwise (the factory always gives one)."""
    message = make(subject=subject, body=body)[0]
    return message._replace(**fields) if fields else message


def test_source_shows_each_line_in_its_own_charset_and_controls_as_pictures() -> None:
    raw = b"Subject: x\r\n\r\n" + "中文正文".encode("gb18030") + b"\n" + "café".encode() + b"\x00\x1b\x7f\n"
    shown = source_text(raw)
    assert shown.text == "Subject: x\n\n中文正文\ncafé␀␛␡\n" and not shown.truncated


def test_source_is_cut_at_the_limit_but_never_inside_a_character() -> None:
    shown = source_text("合同".encode() * 100, limit=10)  # 3-byte characters: 10 bytes hold 3 of them
    assert shown.text == "合同合" and shown.shown_bytes == 9 and shown.total_bytes == 600 and shown.truncated


def test_an_outlook_item_is_recognised_and_titled_as_such() -> None:
    assert is_outlook_msg(OLE_SIGNATURE + b"\x00" * 100) and not is_outlook_msg(b"From: a@b\r\n\r\nx")
    junk = OLE_SIGNATURE.decode("latin-1") + "\x00\x00>\x00"
    assert title(msg(body=junk)).placeholder == "(Outlook .msg item, not Internet mail)"


def test_titles_of_mail_without_a_subject() -> None:
    assert title(msg("Hello")).text == "Hello" and title(msg("Hello")).placeholder == ""
    fragment = msg(body="words " * 40, message_id="")
    assert title(fragment).placeholder == "(no headers)" and title(fragment).text.endswith("…")
    assert title(msg(body="short body")) == title(msg(body="short body", sender="a@b.example"))
    assert title(msg(body="short body")).placeholder == "(no subject)" and title(msg(body="short body")).text == "short body"
    assert first_words("  a\n\n b  c ") == "a b c" and first_words("x" * 100, 10) == "x" * 10 + "…"


def test_parse_notes_get_a_meaning_and_keep_the_note() -> None:
    notes = ["date: unreadable 'soon', received time used", "StartBoundaryNotFoundDefect", "something new"]
    problems = explain(notes)
    assert [p.note for p in problems] == notes
    assert problems[0].meaning.startswith("The Date header could not be read")
    assert "boundary is missing" in problems[1].meaning and problems[2].meaning == UNKNOWN


def test_a_parse_over_its_budget_is_explained_and_every_meaning_is_translated() -> None:
    """The budget's note is what ``parse`` records past its CPU time: hostile mail meets it."""
    note = parse(b"Subject: x\r\n\r\n" + b"body line\r\n" * 50_000, seconds=1e-6).parse_errors[0]
    assert note.startswith("parse: over the time budget")
    assert "not searchable" in explain([note])[0].meaning
    assert sorted(MEANINGS - catalog("zh-CN").keys()) == []


def test_delivery_report_from_a_real_bounce(corpus_dir: Path) -> None:
    raw = (corpus_dir / "cpython/msg_43.eml").read_bytes()
    report = delivery_report(parse_tree(raw), raw)
    assert report is not None and len(report.recipients) == 25 and report.reporting_mta == "sacspam01.dot.ca.gov"
    assert report.original_subject and report.original_message_id == "<edab.7804f5cb8070@python.org>"
    first = report.recipients[0]
    assert (first.action, first.status, first.action_label) == ("failed", "5.7.1", "Failed")
    assert first.status_meaning == "Permanent failure: Delivery not authorized, message refused"
    assert first.diagnostic_code.startswith("550 5.7.1 Message content rejected")  # "smtp;" dropped
    assert delivery_report(parse_tree(b"Subject: hi\r\n\r\nbody"), b"Subject: hi\r\n\r\nbody") is None


def test_detail_fields_flatten_and_label_without_json() -> None:
    fields = detail_fields({"subject": "季度合同", "all": True, "criteria": {"from": "2024-01-01"}, "ids": list(range(12)),
                            "new_thing": None})  # fmt: skip
    assert [(f.key, f.label, f.value) for f in fields] == [
        ("subject", "Subject", "季度合同"), ("all", "All matches", "Yes"), ("criteria.from", "From", "2024-01-01"),
        ("ids", "Message IDs", "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 … (+2)"), ("new_thing", "New thing", "—"),
    ]  # fmt: skip
    assert fields[1].translate_value and not fields[0].translate_value


def test_detail_times_are_recognised_for_the_page_to_show_in_its_zone() -> None:
    [start, end, text] = detail_fields({"from": "2024-03-01T00:00:00+08:00", "to": "2024-03-31T23:59:59.999Z",
                                        "subject": "2024-03-01T00:00 meeting"})  # fmt: skip
    assert start.time is not None and start.time.utcoffset().total_seconds() == 8 * 3600
    assert end.time is not None and end.time.microsecond == 999000 and text.time is None
