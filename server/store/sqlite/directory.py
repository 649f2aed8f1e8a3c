"""The company directory: accounts and the department tree derived from them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from server.model import Account, department_ancestors, normalize_department


class DirectoryMixin:
    def upsert_accounts(self, accounts: Iterable[Account]) -> int:
        rows = [
            (a.address.strip().lower(), a.name, normalize_department(a.department), str(a.status)) for a in accounts
        ]
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO accounts (address, name, department, status) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (address) DO UPDATE SET name = excluded.name, department = excluded.department, "
                "status = excluded.status",
                rows,
            )
        return len(rows)

    def get_accounts(self, addresses: Sequence[str]) -> dict[str, Account]:
        wanted = list(dict.fromkeys(a.strip().lower() for a in addresses))
        found: dict[str, Account] = {}
        conn = self._conn()
        for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT address, name, department, status FROM accounts WHERE address IN ({marks})", chunk):
                found[row[0]] = Account(*row)
        return found

    def list_accounts(self, *, status: str | None = None) -> list[Account]:
        sql, args = "SELECT address, name, department, status FROM accounts", []
        if status is not None:
            sql, args = sql + " WHERE status = ?", [str(status)]
        return [Account(*row) for row in self._conn().execute(sql + " ORDER BY address", args)]

    def list_departments(self) -> list[str]:
        rows = self._conn().execute("SELECT DISTINCT department FROM accounts WHERE department != ''")
        return sorted({a for (path,) in rows for a in department_ancestors(path)})
