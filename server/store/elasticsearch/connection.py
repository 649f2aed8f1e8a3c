"""The client and the index layout of one installation (names all start with ``es_index_prefix``).

| name | what |
|---|---|
| ``<prefix>-messages-YYYY.MM`` | messages of one month (by message date), made from the template |
| ``<prefix>-messages`` | read alias over every monthly index (the template adds it) |
| ``<prefix>-raw`` | raw bytes, single-instance by SHA-256 |
| ``<prefix>-directory`` / ``<prefix>-docs`` / ``<prefix>-audit`` | accounts / settings, counters, docs / audit log |

Writes address the monthly index itself (the month is known from the date), so no moving
write alias is needed; every read goes through the alias.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from server.config import Config
from server.store.protocol import StoreError

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"
ERRORS = (ApiError, TransportError)
REQUEST_TIMEOUT = 60


def load_mapping(name: str) -> dict[str, Any]:
    """A mappings/*.json body without its ``_comment``."""
    body = json.loads((MAPPINGS / name).read_text(encoding="utf-8"))
    return {k: v for k, v in body.items() if not k.startswith("_")}


def client_options(config: Config) -> dict[str, Any]:
    """Keyword arguments of ``Elasticsearch(...)``: URL plus API key, basic auth, CA certificate."""
    options: dict[str, Any] = {"hosts": [config.store.url], "request_timeout": REQUEST_TIMEOUT}
    if config.store.api_key:
        options["api_key"] = config.store.api_key
    elif config.store.username:
        options["basic_auth"] = (config.store.username, config.store.password or "")
    if config.store.ca_certs:
        options["ca_certs"] = config.store.ca_certs
    return options


class Indices:
    """Index and alias names for one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.messages = f"{prefix}-messages"  # the read alias
        self.raw = f"{prefix}-raw"
        self.directory = f"{prefix}-directory"
        self.docs = f"{prefix}-docs"
        self.audit = f"{prefix}-audit"

    def month(self, year: int, month: int) -> str:
        return f"{self.messages}-{year:04d}.{month:02d}"

    @property
    def template(self) -> str:
        return f"{self.prefix}-messages"

    @property
    def pattern(self) -> str:
        return f"{self.messages}-*"


def ensure_layout(es: Elasticsearch, names: Indices) -> None:
    """Install the message template (idempotent) and create the fixed indices that are missing."""
    template = load_mapping("messages-v2.json")
    template["template"]["aliases"] = {names.messages: {}}
    try:
        es.indices.put_index_template(name=names.template, index_patterns=[names.pattern], **template)
        for index, mapping in (
            (names.raw, "raw-v1.json"),
            (names.directory, "directory-v1.json"),
            (names.docs, "docs-v1.json"),
        ):
            create_index(es, index, load_mapping(mapping))
    except ERRORS as exc:
        raise StoreError(f"cannot prepare the Elasticsearch indices {names.prefix}-*: {exc}") from exc


def create_index(es: Elasticsearch, index: str, body: dict[str, Any]) -> None:
    try:
        if not es.indices.exists(index=index):
            es.indices.create(index=index, **body)
    except ApiError as exc:
        if "resource_already_exists" not in str(exc):
            raise
