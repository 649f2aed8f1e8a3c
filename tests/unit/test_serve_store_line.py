"""The store line ``serve`` prints: where the archive is, never the credentials a URL may carry."""

from __future__ import annotations

from server.cli.serve import store_line
from server.config import Config, with_overrides


def test_sqlite_names_the_file(config: Config) -> None:
    assert store_line(config) == f"SQLite {config.sqlite_path.resolve()}"


def test_elasticsearch_url_is_shown_without_user_and_password(config: Config) -> None:
    es = with_overrides(config, store="https://archive:s3cret@es.example:9200/", es_index_prefix="acme")
    assert store_line(es) == "Elasticsearch at https://es.example:9200 (index prefix acme)"
    assert "s3cret" not in store_line(with_overrides(config, store="http://u:s3cret@[::1]:9200"))
