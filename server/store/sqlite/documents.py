"""Settings, counters and small JSON documents (users, API tokens, export tasks, POP3 state)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from server.store.protocol import VersionConflict

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class DocumentsMixin:
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._conn().execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        text = _dump(value)  # fails before touching the database if not JSON-serialisable
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, text))

    def incr_counter(self, key: str, by: int = 1) -> int:
        """Atomic across processes: the read-modify-write happens under the database write lock."""
        with self._write() as conn:
            (value,) = conn.execute(
                "INSERT INTO counters (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value RETURNING value",
                (key, int(by)),
            ).fetchone()
        return value

    def incr_counters(self, amounts: Mapping[str, int]) -> None:
        """All of a batch's counters in one transaction: one commit instead of one per counter."""
        rows = [(key, int(by)) for key, by in amounts.items()]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany("INSERT INTO counters (key, value) VALUES (?, ?) "
                             "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value", rows)  # fmt: skip

    def get_counter(self, key: str) -> int:
        row = self._conn().execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def put_doc(self, kind: str, key: str, doc: dict[str, Any], *, if_version: int | None = None) -> int:
        """Read the version and write under the write lock, so the compare-and-set is atomic."""
        text = _dump(doc)
        with self._write() as conn:
            row = conn.execute("SELECT version FROM docs WHERE kind = ? AND key = ?", (kind, key)).fetchone()
            current = row[0] if row else None
            if if_version is not None and (current or 0) != if_version:
                raise VersionConflict(kind, key, if_version, current)
            version = (current or 0) + 1
            conn.execute("INSERT OR REPLACE INTO docs (kind, key, doc, version) VALUES (?, ?, ?, ?)",
                         (kind, key, text, version))  # fmt: skip
        return version

    def get_doc(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self.get_doc_versioned(kind, key)
        return found[0] if found else None

    def get_doc_versioned(self, kind: str, key: str) -> tuple[dict[str, Any], int] | None:
        row = self._conn().execute("SELECT doc, version FROM docs WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def list_docs(
        self, kind: str, *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        sql, args = "SELECT key, doc FROM docs WHERE kind = ?", [kind]
        if after is not None:
            sql, args = sql + " AND key > ?", [*args, after]
        rows = self._conn().execute(sql + " ORDER BY key LIMIT ?", [*args, -1 if limit is None else limit])
        return [(key, json.loads(doc)) for key, doc in rows]

    def delete_doc(self, kind: str, key: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key)).rowcount > 0
