"""Settings, counters and small JSON documents (users, API tokens, export tasks, POP3 state)."""

from __future__ import annotations

import json
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

    def get_counter(self, key: str) -> int:
        row = self._conn().execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def put_doc(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        text = _dump(doc)
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO docs (kind, key, doc) VALUES (?, ?, ?)", (kind, key, text))

    def get_doc(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT doc FROM docs WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def list_docs(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._conn().execute("SELECT key, doc FROM docs WHERE kind = ? ORDER BY key", (kind,))
        return [(key, json.loads(doc)) for key, doc in rows]

    def delete_doc(self, kind: str, key: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key)).rowcount > 0
