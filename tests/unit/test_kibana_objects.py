"""The Kibana saved objects (mappings/kibana/*.ndjson) fit the strict mappings: every field a data
view, visualization or search names exists in the message index template with a type its
aggregation can use, and every reference between the objects resolves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "mappings"
OBJECTS = sorted((ROOT / "kibana").glob("*.ndjson"))
AGGREGATABLE = {"keyword", "date", "long", "integer", "boolean", "double", "float"}
NEEDS = {"date_histogram": {"date"}, "sum": {"long", "integer", "double", "float"}, "avg": {"long", "integer", "double", "float"},
         "max": {"long", "integer", "double", "float", "date"}, "terms": AGGREGATABLE}  # fmt: skip


def message_fields() -> dict[str, str]:
    """Field -> type of the current message template (messages-vN.json with the highest N)."""
    newest = max(ROOT.glob("messages-v*.json"), key=lambda p: int(p.stem.rpartition("v")[2]))
    doc = json.loads(newest.read_text())
    mappings = doc.get("mappings") or doc["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    return {name: spec.get("type", "object") for name, spec in mappings["properties"].items()}


def saved_objects() -> list[dict]:
    return [json.loads(line) for path in OBJECTS for line in path.read_text().splitlines() if line.strip()]


def fields_used(obj: dict) -> list[tuple[str, str]]:
    """(field, what uses it) of one saved object."""
    attrs = obj["attributes"]
    used = []
    if obj["type"] == "index-pattern":
        used.append((attrs["timeFieldName"], "date_histogram"))
        used += [(name, "format") for name in json.loads(attrs.get("fieldFormatMap") or "{}")]
    if obj["type"] == "visualization":
        for agg in json.loads(attrs["visState"])["aggs"]:
            if "field" in agg["params"]:
                used.append((agg["params"]["field"], agg["type"]))
    search = json.loads(attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON") or "{}")
    used += [(f["meta"]["key"], "filter") for f in search.get("filter", []) if "key" in f.get("meta", {})]
    return used


def test_there_is_a_data_view_and_an_ops_dashboard() -> None:
    kinds = [o["type"] for o in saved_objects()]
    assert kinds.count("index-pattern") == 1 and kinds.count("dashboard") == 1 and kinds.count("visualization") >= 6


@pytest.mark.parametrize("obj", saved_objects(), ids=lambda o: o["id"])
def test_every_field_exists_in_the_strict_mapping_with_a_usable_type(obj: dict) -> None:
    fields = message_fields()
    for name, use in fields_used(obj):
        assert name in fields, f"{obj['id']} uses {name!r}, which the message mapping lacks"
        allowed = NEEDS.get(use, AGGREGATABLE | {"text"})
        assert fields[name] in allowed, f"{obj['id']}: {use} on {name!r} needs {sorted(allowed)}, mapping has {fields[name]}"


def test_the_time_field_is_timestamp_everywhere() -> None:
    """Kibana's default time field: every time-based object agrees with the data view."""
    view = next(o for o in saved_objects() if o["type"] == "index-pattern")
    assert view["attributes"]["timeFieldName"] == "@timestamp"
    histograms = [name for o in saved_objects() for name, use in fields_used(o) if use == "date_histogram"]
    assert len(histograms) >= 3 and set(histograms) == {"@timestamp"}


def test_every_reference_resolves() -> None:
    by_id = {(o["type"], o["id"]) for o in saved_objects()}
    for obj in saved_objects():
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in by_id, f"{obj['id']} refers to missing {ref['type']} {ref['id']}"
        if obj["type"] == "dashboard":
            names = {ref["name"] for ref in obj["references"]}
            assert {p["panelRefName"] for p in json.loads(obj["attributes"]["panelsJSON"])} == names


def test_the_data_view_reads_the_message_alias_of_the_default_prefix() -> None:
    from server.config import Config
    from server.store.elasticsearch.layout import Indices

    view = next(o for o in saved_objects() if o["type"] == "index-pattern")
    assert view["attributes"]["title"] == Indices(Config().store.index_prefix).messages
