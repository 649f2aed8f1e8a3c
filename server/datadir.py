"""What makes a data directory an archive, so commands never create one by accident.

Only ``mailarchive serve`` (``make run``) creates an archive. Every other command works on an
existing one: run from the wrong directory, or with ``MAILARCHIVE_DATA_DIR`` unset, it would
otherwise open a brand-new empty ``./data`` archive and report "0 mailboxes" as if that were the
truth.
"""

from __future__ import annotations

from server.config import Config, ConfigError


class NoArchive(ConfigError):
    """The configured data directory holds no archive (exit code 2, one line)."""


def archive_exists(config: Config) -> bool:
    """SQLite: the archive file exists. Elasticsearch: the data directory exists (it holds the
    web secret, the audit anchors and the SMTP spool that go with the cluster's indices)."""
    if config.store.uses_elasticsearch:
        return config.data_dir.is_dir()
    return config.sqlite_path.is_file()


def require_archive(config: Config) -> None:
    if not archive_exists(config):
        raise NoArchive(
            f"no archive in {config.data_dir.resolve()}: set MAILARCHIVE_DATA_DIR to the archive's data directory, "
            "or run 'mailarchive serve' once to create an archive there"
        )
