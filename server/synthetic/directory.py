"""A synthetic company directory: a department tree and ~2,000 accounts under internal domains.

Deterministic for a seed, so the benchmark, the demo data and tests agree on who works where
without storing the directory anywhere.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

from server.model import Account
from server.synthetic import words


@dataclass(frozen=True)
class Person:
    address: str
    name: str  # display name, Han characters for Chinese staff
    department: str = ""  # "" for people outside the company


@dataclass(frozen=True)
class Directory:
    accounts: tuple[Person, ...]
    externals: tuple[Person, ...]
    internal_domains: tuple[str, ...] = words.INTERNAL_DOMAINS

    def as_accounts(self) -> list[Account]:
        return [Account(address=p.address, name=p.name, department=p.department) for p in self.accounts]

    def by_department(self) -> dict[str, list[Person]]:
        groups: dict[str, list[Person]] = {}
        for person in self.accounts:
            groups.setdefault(person.department, []).append(person)
        return groups


def department_paths() -> list[str]:
    """Every department path of the tree, parents before children."""
    paths = []
    for top, subs in words.DEPARTMENTS.items():
        paths.append(f"/{top}")
        for sub, leaves in subs.items():
            paths.append(f"/{top}/{sub}")
            paths.extend(f"/{top}/{sub}/{leaf}" for leaf in leaves)
    return paths


def _person_name(rng: random.Random, chinese: bool) -> tuple[str, str]:
    """(display name, local-part stem)."""
    if chinese:
        (sur, sur_py), (given, given_py) = rng.choice(words.ZH_SURNAMES), rng.choice(words.ZH_GIVEN)
        return sur + given, f"{given_py}.{sur_py}"
    first, last = rng.choice(words.FIRST_NAMES_EN), rng.choice(words.LAST_NAMES_EN)
    return f"{first.title()} {last.title()}", f"{first}.{last}"


def _unique(stem: str, domain: str, taken: set[str]) -> str:
    address, n = f"{stem}@{domain}", 1
    while address in taken:
        n += 1
        address = f"{stem}{n}@{domain}"
    taken.add(address)
    return address


def build_directory(seed: int = 1, size: int = 2000, externals: int = 600) -> Directory:
    """Accounts spread over the leaf-most departments (bigger teams in Sales and Engineering)."""
    rng = random.Random(f"directory:{seed}")
    paths = department_paths()
    weights = [3 if p.startswith(("/Sales", "/Engineering")) else 1 for p in paths]
    taken: set[str] = set()
    accounts = []
    for _ in range(size):
        name, stem = _person_name(rng, chinese=rng.random() < 0.7)
        domain = words.INTERNAL_DOMAINS[0] if rng.random() < 0.75 else words.INTERNAL_DOMAINS[1]
        department = rng.choices(paths, weights)[0]
        accounts.append(Person(_unique(stem, domain, taken), name, department))
    outside = []
    for _ in range(externals):
        name, stem = _person_name(rng, chinese=rng.random() < 0.5)
        outside.append(Person(_unique(stem, rng.choice(words.EXTERNAL_DOMAINS), taken), name))
    return Directory(tuple(accounts), tuple(outside))


def write_directory(directory: Directory, path: Path) -> Path:
    """CSV (address,name,department,status) or JSON list, by the file suffix."""
    rows = [{"address": p.address, "name": p.name, "department": p.department, "status": "active"}
            for p in directory.accounts]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        return path
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["address", "name", "department", "status"])
        writer.writeheader()
        writer.writerows(rows)
    return path
