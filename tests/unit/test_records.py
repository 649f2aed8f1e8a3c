"""The message, account and audit records (``server.record.Record``, not dataclasses: building those
cost every command's start-up) keep what the dataclasses gave: fields in order, equality, copies."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.model import Attachment, Message
from server.store.protocol import AuditRecord

SHANGHAI = timezone(timedelta(hours=8))


def _message(**changes: Any) -> Message:
    fields = {"id": "m1", "sha256": "s", "date": datetime(2024, 3, 1, 16, 30, 0, 123456, tzinfo=SHANGHAI),
              "archived_at": datetime(2024, 3, 1, 9), "size": 10, "attachments": [Attachment("a.pdf", "pdf", 3, "x")],
              "legal_holds": ["h1"]}  # fmt: skip
    return Message(**fields | changes)


def test_a_message_is_normalised_compared_and_copied_like_the_dataclass_it_was() -> None:
    message = _message()
    assert message.date == datetime(2024, 3, 1, 8, 30, 0, 123000, tzinfo=UTC) and message.date.tzinfo is UTC
    assert message.archived_at.tzinfo is UTC and message.legal_hold and message.mailboxes == []
    assert message.mailboxes is not _message().mailboxes  # a new list each, not a shared default
    assert message == _message() and message != _message(subject="other")
    assert pickle.loads(pickle.dumps(message)) == message and copy.deepcopy(message) == message
    assert Message.from_dict(message.to_dict()) == message
    assert list(message.to_dict()) == list(Message._fields) and Message._fields[:3] == ("id", "sha256", "date")
    assert repr(message).startswith("Message(id='m1', sha256='s', date=datetime.datetime(2024, 3, 1, 8, 30")
    with pytest.raises(TypeError):
        hash(message)  # mutable: unhashable, as a dataclass with eq and without frozen


def test_replace_builds_through_init_and_refuses_unknown_fields() -> None:
    message = _message()
    moved = message._replace(date=datetime(2024, 3, 2, 1, 0, tzinfo=SHANGHAI), legal_holds=[])
    assert moved.date == datetime(2024, 3, 1, 17, 0, tzinfo=UTC) and not moved.legal_hold
    assert message.legal_hold and moved.attachments == message.attachments
    with pytest.raises(TypeError, match="importance"):
        message._replace(importance="high")


def test_an_audit_record_keeps_its_field_order_and_stays_mutable() -> None:
    record = AuditRecord(seq=0, time=datetime(2024, 1, 1, tzinfo=UTC), actor="a", role="r", source_ip="",
                         operation="search", target="", details={}, result="success", prev_hash="", hash="")  # fmt: skip
    record.seq = 7
    assert record._asdict()["seq"] == 7 and AuditRecord._fields[-2:] == ("prev_hash", "hash")
    assert record._replace(actor="b") != record and record._replace() == record
