"""The typed configuration: sources and their order, one-line errors, and docs/configuration.md kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.config import SETTINGS, Config, ConfigError, load_config, with_overrides

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _rows() -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in DOC.read_text().splitlines()
            if line.startswith("| `MAILARCHIVE_")]  # fmt: skip


def test_every_setting_is_documented_with_its_variable_toml_key_and_default() -> None:
    rows = {row[0].strip("`"): row for row in _rows()}
    for s in SETTINGS:
        assert s.variable in rows, f"{s.variable} is missing from docs/configuration.md"
        row = rows[s.variable]
        assert row[1] == f"`{s.toml_key}`", f"{s.variable}: doc says TOML key {row[1]}, config has {s.toml_key}"
        assert row[2].strip("`") == s.default_text, f"{s.variable}: doc says default {row[2]}, config has {s.default_text}"
    assert set(rows) == {s.variable for s in SETTINGS}, "docs/configuration.md lists settings the config lacks"


def test_every_field_of_every_section_is_a_setting() -> None:
    names = {(s.section, s.name) for s in SETTINGS}
    config = Config()
    for section in ("store", "web", "smtp", "pop3", "worker", "retention", "archiving", "security"):
        for name in vars(getattr(config, section)):
            assert (section, name) in names


def test_defaults_work_on_a_fresh_machine() -> None:
    config = load_config({"MAILARCHIVE_CONFIG": "none"})
    assert config.data_dir == Path("data") and config.store.url == "sqlite" and not config.store.uses_elasticsearch
    assert (config.web.bind, config.web.port) == ("127.0.0.1", 8080)
    assert (config.smtp.bind, config.smtp.port) == ("127.0.0.1", 2525)
    assert (config.pop3.bind, config.pop3.port, config.pop3.tls_port) == ("127.0.0.1", 1110, None)
    assert (config.pop3.window, config.pop3.account) == (10000, "archive")
    assert config.worker.redis_url is None and config.retention.years == 6


def test_toml_tables_then_environment_then_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "mailarchive.toml"
    toml.write_text(
        'data_dir = "/srv/archive"\ntimezone = "Asia/Shanghai"\n'
        '[web]\nport = 9090\ntrusted_proxies = 1\n'
        '[pop3]\nport = 1995\nwindow = 500\n'
        '[store]\nurl = "https://es.example:9200"\n'
        '[archiving]\ninternal_domains = ["Corp.example", "corp.example.cn"]\n'
    )
    env = {"MAILARCHIVE_CONFIG": str(toml), "MAILARCHIVE_WEB_PORT": "8181", "MAILARCHIVE_POP3_WINDOW": "",
           "MAILARCHIVE_REDIS_URL": "redis://127.0.0.1:6390/0", "MAILARCHIVE_RETENTION_YEARS": "10"}
    config = load_config(env, pop3_port=0)
    assert config.data_dir == Path("/srv/archive") and config.timezone == "Asia/Shanghai"
    assert config.web.port == 8181 and config.web.trusted_proxies == 1  # environment wins, the rest kept
    assert (config.pop3.port, config.pop3.window) == (0, 500)  # override wins; empty variable = unset
    assert config.store.uses_elasticsearch and config.worker.redis_url == "redis://127.0.0.1:6390/0"
    assert config.archiving.internal_domains == ("corp.example", "corp.example.cn")
    assert config.retention.years == 10


def test_flat_keys_of_earlier_releases_are_still_read(tmp_path: Path) -> None:
    toml = tmp_path / "old.toml"
    toml.write_text('web_port = 8282\nsmtp_max_recipients = 7\nweb_trusted_proxies = 2\naudit_anchor_every = 5\n')
    config = load_config({"MAILARCHIVE_CONFIG": str(toml)})
    assert (config.web.port, config.smtp.max_recipients, config.web.trusted_proxies) == (8282, 7, 2)
    assert config.security.audit_anchor_every == 5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAILARCHIVE_WEB_PORT": "80x"}, "MAILARCHIVE_WEB_PORT must be a whole number, got '80x'"),
        ({"MAILARCHIVE_POP3_PORT": "70000"}, "MAILARCHIVE_POP3_PORT must be a whole number from 0 to 65535"),
        ({"MAILARCHIVE_POP3_WINDOW": "0"}, "MAILARCHIVE_POP3_WINDOW must be a whole number at least 1"),
        ({"MAILARCHIVE_RETENTION_YEARS": "0"}, "MAILARCHIVE_RETENTION_YEARS must be a whole number at least 1"),
        ({"MAILARCHIVE_SMTP_REQUIRE_TLS": "maybe"}, "MAILARCHIVE_SMTP_REQUIRE_TLS must be true or false"),
        ({"MAILARCHIVE_WEB_SECURE_COOKIES": "sometimes"}, "MAILARCHIVE_WEB_SECURE_COOKIES must be one of auto"),
        ({"MAILARCHIVE_POP3_CERTIFICATE": "/etc/cert.pem"}, "POP3_CERTIFICATE and MAILARCHIVE_POP3_KEY"),
        ({"MAILARCHIVE_POP3_TLS_PORT": "995"}, "MAILARCHIVE_POP3_TLS_PORT needs"),
        ({"MAILARCHIVE_CONFIG": "/nonexistent/mailarchive.toml"}, "MAILARCHIVE_CONFIG: no such file"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config({"MAILARCHIVE_CONFIG": "none", **env})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[web]\nport = 'eighty'\n", "[web] port must be a whole number"),
        ("[web]\nprot = 8080\n", "unknown setting [web] prot"),
        ("web_prot = 8080\n", "unknown setting 'web_prot'"),
        ("[web\n", "not valid TOML"),
    ],
)
def test_bad_toml_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    toml = tmp_path / "mailarchive.toml"
    toml.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config({"MAILARCHIVE_CONFIG": str(toml)})
    assert str(toml) in str(info.value)


def test_with_overrides_uses_the_variable_names(config: Config) -> None:
    changed = with_overrides(config, web_port=0, internal_domains="A.example,b.example", smtp_max_recipients="5")
    assert changed.web.port == 0 and changed.smtp.max_recipients == 5
    assert changed.archiving.internal_domains == ("a.example", "b.example")
    assert changed.data_dir == config.data_dir and config.web.port == 8080  # the original is unchanged
    with pytest.raises(TypeError, match="web_prot"):
        with_overrides(config, web_prot=1)


def test_sections_behave_like_the_frozen_dataclasses_they_were() -> None:
    """Equality, hashing, repr, pickling and ``replace`` of the ``Section`` records (not dataclasses:
    building those cost every command's start-up)."""
    import copy
    import pickle

    config = load_config({"MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_INTERNAL_DOMAINS": "a.example"})
    assert pickle.loads(pickle.dumps(config)) == config and copy.deepcopy(config) == config
    assert hash(pickle.loads(pickle.dumps(config))) == hash(config)
    moved = config.replace(web=config.web.replace(port=0))
    assert (moved.web.port, config.web.port, moved.smtp) == (0, 8080, config.smtp) and moved != config
    assert repr(config.web) == "WebConfig(bind='127.0.0.1', port=8080, secure_cookies='auto', trusted_proxies=0)"
    assert Config().web == config.web and Config().archiving != config.archiving
    with pytest.raises(AttributeError, match="cannot assign to field 'port'"):
        config.web.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'prot'"):
        config.web.replace(prot=1)


def test_each_settings_type_is_what_get_type_hints_gives() -> None:
    """``Setting.type`` evaluates one annotation without ``typing`` (a search loads none)."""
    import typing

    for s in SETTINGS:
        assert s.type == typing.get_type_hints(s.owner)[s.name], s


def test_an_annotation_is_looked_up_in_its_module_before_its_class() -> None:
    """As ``get_type_hints`` does: a field named like a type does not shadow the module's type."""
    import typing

    from server.config import Section, _annotation

    class Shadowing(Section):
        Path: str = "a field named Path"
        spool: Path | None = None

    assert _annotation(Shadowing, "spool") == typing.get_type_hints(Shadowing)["spool"] == Path | None
