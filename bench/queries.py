"""The fixed mix of search criteria whose latency the benchmark reports (DESIGN.md §10: p95 ≤ 200 ms).

Six kinds, each with several variants drawn deterministically from the synthetic directory and
vocabulary, over a whole-year and a one-month range, so every run asks the same questions.
"""

from __future__ import annotations

import random

from server.synthetic import build_directory, department_paths

KINDS = ("keyword_en", "keyword_cjk", "sender", "mailbox", "department_sub", "combined")
_YEAR = ("2025-01-01", "2025-12-31")
_MONTHS = [(f"2025-{m:02d}-01", f"2025-{m:02d}-28") for m in range(1, 13)]
_EN = ["contract", "budget review", '"purchase order"', "invoice payment", "shanghai", "migration", "deadline",
       "warehouse inventory", "PO", "renewal"]
_CJK = ["合同", "会议纪要", "供应商", "报价", "发票", "项目进度", "上海", "审批", "培训", "物流"]


def query_mix(seed: int = 1, variants: int = 10) -> list[tuple[str, dict[str, str]]]:
    """(kind, flat criteria) pairs: ``variants`` per kind, alternating year and month ranges."""
    rng = random.Random(f"queries:{seed}")
    accounts = build_directory(seed).accounts
    tops = sorted({"/" + p.split("/")[1] for p in department_paths()})
    mix: list[tuple[str, dict[str, str]]] = []
    for i in range(variants):
        start, end = _YEAR if i % 2 == 0 else _MONTHS[i % 12]
        span = {"from": start, "to": end}
        person = rng.choice(accounts).address
        mix += [
            ("keyword_en", {**span, "keyword": _EN[i % len(_EN)]}),
            ("keyword_cjk", {**span, "keyword": _CJK[i % len(_CJK)]}),
            ("sender", {**span, "sender": rng.choice(accounts).address}),
            ("mailbox", {**span, "mailbox": person}),
            ("department_sub", {**span, "department": tops[i % len(tops)], "include_subdepartments": "true"}),
            ("combined", {**span, "keyword": _EN[(i + 3) % len(_EN)], "department": tops[(i + 1) % len(tops)],
                          "include_subdepartments": "true", "scope": "subject,body"}),
        ]
    return mix
