"""Read a company directory file (CSV or JSON) into ``Account`` records, with line-precise errors.

CSV: ``address,name,department,status`` (a header row with these names is optional; name,
department and status may be empty; status defaults to active). JSON: a list of objects with those
keys, or ``{"accounts": [...]}``. Department paths such as ``/Sales/East/Shanghai`` build the
department tree: the store derives every ancestor from the accounts' paths.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from server.model import Account, AccountStatus, normalize_department

FIELDS = ("address", "name", "department", "status")
_STATUSES = {s.value for s in AccountStatus}


class DirectoryFileError(ValueError):
    """The file cannot be read as a directory; the message names the file and line."""


def read_directory_file(path: Path) -> list[Account]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise DirectoryFileError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DirectoryFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        return _from_json(path, text)
    return _from_csv(path, text)


def _from_csv(path: Path, text: str) -> list[Account]:
    accounts = []
    for line, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if line == 1 and cells[0].lower() == "address":
            continue
        if len(cells) > len(FIELDS):
            raise DirectoryFileError(f"{path}:{line}: expected at most 4 columns (address,name,department,status), got {len(cells)}")
        accounts.append(_account(f"{path}:{line}", dict(zip(FIELDS, cells, strict=False))))
    return accounts


def _from_json(path: Path, text: str) -> list[Account]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectoryFileError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    items = data.get("accounts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DirectoryFileError(f'{path}: expected a list of accounts or {{"accounts": [...]}}')
    accounts = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise DirectoryFileError(f"{path}: account #{number} is not an object")
        accounts.append(_account(f"{path}: account #{number}", {k: str(item.get(k) or "").strip() for k in FIELDS}))
    return accounts


def _account(where: str, row: dict[str, str]) -> Account:
    address = row.get("address", "").lower()
    if "@" not in address or " " in address or address.startswith("@") or address.endswith("@"):
        raise DirectoryFileError(f"{where}: invalid address {row.get('address', '')!r}")
    status = (row.get("status") or AccountStatus.ACTIVE).lower()
    if status not in _STATUSES:
        raise DirectoryFileError(f"{where}: status must be one of {', '.join(sorted(_STATUSES))}, got {status!r}")
    return Account(address=address, name=row.get("name", ""), department=normalize_department(row.get("department", "")),
                   status=AccountStatus(status))
