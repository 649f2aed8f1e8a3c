"""Stored documents decode to the same dicts whichever JSON reader a process uses (json for its
first few, orjson after: ``server.store.common.codec.unpack_doc``)."""

from __future__ import annotations

import orjson
import pytest

from server.store.common import codec

DOCS = [
    {"id": "a", "subject": "合同审批 📎 \u202eevil\x1b[0m", "size": 2**53 + 1, "score": 0.1 + 0.2, "flags": []},
    {"nested": {"list": [1, -2, 3.5e-300, None, True, False, ""], "empty": {}}, "s": "\\\"\n\t\x00"},
    {"big": 9_223_372_036_854_775_807, "neg": -9_223_372_036_854_775_808, "cafe": "caf\u00e9 \ud55c\uae00"},
]


@pytest.fixture
def fresh_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "FEW_DOCS", 2)
    monkeypatch.setattr(codec, "_decoded", 0)
    monkeypatch.setattr(codec, "_fast_loads", None)


def test_both_readers_give_the_same_documents(fresh_counter: None) -> None:
    blobs = [codec.pack_doc(doc) for doc in DOCS]
    assert [orjson.loads(codec.decompress(b)) for b in blobs] == DOCS
    first = [codec.unpack_doc(b) for b in blobs]  # two with json, then orjson
    assert codec._fast_loads is orjson.loads
    assert first == [codec.unpack_doc(b) for b in blobs] == DOCS
