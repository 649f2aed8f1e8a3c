"""The client of one installation, its error types and the mapping files (layout: layout.py)."""

from __future__ import annotations

import json
from typing import Any

from elasticsearch import ApiError, TransportError

from server.config import Config
from server.resources import resource_dir

MAPPINGS = resource_dir("mappings")
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
