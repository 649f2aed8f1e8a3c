"""Search latency over the query mix: through the Store API, and through GET /api/v1/messages."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.queries import query_mix
from server.config import Config
from server.query.criteria import parse_criteria
from server.store import open_store

ROUNDS = 3  # each query this many times; the first round also warms caches
BUDGET_SECONDS = 120.0  # per surface: a slow backend must not stall the whole run


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0}
    pick = lambda q: ordered[min(int(q * len(ordered)), len(ordered) - 1)]  # noqa: E731
    return {"n": len(ordered), "p50": round(pick(0.50), 2), "p95": round(pick(0.95), 2),
            "p99": round(pick(0.99), 2), "max": round(ordered[-1], 2)}


def _measure(run_one: Callable[[dict[str, str]], int], seed: int, rounds: int,
             cpu: Callable[[], float] = time.process_time) -> dict:  # fmt: skip
    """Wall time per query, and the CPU time ``cpu()`` (seconds, cumulative) of the process doing
    the work grew by: on a machine shared with other jobs wall time is mostly waiting for a core,
    CPU time is what an idle machine would take."""
    by_kind: dict[str, list[float]] = {}
    cpu_by_kind: dict[str, list[float]] = {}
    by_round: list[list[float]] = []
    totals: dict[str, int] = {}
    deadline = time.monotonic() + BUDGET_SECONDS
    mix = query_mix(seed)
    for _ in range(rounds):
        by_round.append([])
        for kind, params in mix:
            if time.monotonic() > deadline:
                break
            started, cpu_started = time.perf_counter(), cpu()
            total = run_one(params)
            by_kind.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            by_round[-1].append(by_kind[kind][-1])
            cpu_by_kind.setdefault(kind, []).append((cpu() - cpu_started) * 1000)
            totals[kind] = max(totals.get(kind, 0), total)
    return {
        "overall": percentiles([v for values in by_kind.values() for v in values]),
        "by_kind": {kind: {**percentiles(values), "max_total": totals[kind]} for kind, values in by_kind.items()},
        "cpu_overall": percentiles([v for values in cpu_by_kind.values() for v in values]),
        "cpu_by_kind": {kind: percentiles(values) for kind, values in cpu_by_kind.items()},
        # a node the bench has just started compiles its search code while the first round runs:
        # round 1 against the later ones shows how much of the pooled figure is that warm-up
        "wall_by_round": [percentiles(values) for values in by_round if values],
    }


def store_latency(config: Config, seed: int, rounds: int = ROUNDS) -> dict:
    store = open_store(config)
    try:
        store.refresh()
        return _measure(lambda params: store.search(parse_criteria(params, tz=config.timezone), limit=50).total, seed, rounds)
    finally:
        store.close()


def highlight_latency(config: Config, seed: int, rounds: int = ROUNDS) -> dict:
    """The cost of "why it matched" on the same mix: each query is searched (a page of 50) and its
    page highlighted (server.query.highlight.result_rows, what the API and ``search --json`` do),
    timed separately, so ``search`` and ``search_and_highlight`` come from the very same searches."""
    from server.query.highlight import result_rows

    store = open_store(config)
    search_ms: list[float] = []
    both_ms: list[float] = []
    cpu_search_ms: list[float] = []  # process CPU time too: on a loaded machine wall time is mostly waiting
    cpu_both_ms: list[float] = []
    deadline = time.monotonic() + BUDGET_SECONDS
    try:
        store.refresh()
        for _ in range(rounds):
            for _kind, params in query_mix(seed):
                if time.monotonic() > deadline:
                    break
                criteria = parse_criteria(params, tz=config.timezone)
                started, cpu_started = time.perf_counter(), time.process_time()
                page = store.search(criteria, limit=50)
                searched, cpu_searched = time.perf_counter(), time.process_time()
                result_rows(page.results, criteria)
                done, cpu_done = time.perf_counter(), time.process_time()
                search_ms.append((searched - started) * 1000)
                both_ms.append((done - started) * 1000)
                cpu_search_ms.append((cpu_searched - cpu_started) * 1000)
                cpu_both_ms.append((cpu_done - cpu_started) * 1000)
    finally:
        store.close()
    search, both = percentiles(search_ms), percentiles(both_ms)
    ratio = round(both["p95"] / search["p95"], 3) if search.get("p95") else None
    cpu_search, cpu_both = percentiles(cpu_search_ms), percentiles(cpu_both_ms)
    return {"search": search, "search_and_highlight": both, "p95_ratio": ratio,
            "highlight_ms": percentiles([b - s for s, b in zip(search_ms, both_ms, strict=True)]),
            "cpu": {"search": cpu_search, "search_and_highlight": cpu_both,
                    "p95_ratio": round(cpu_both["p95"] / cpu_search["p95"], 3) if cpu_search.get("p95") else None,
                    "highlight_ms": percentiles([b - s for s, b in zip(cpu_search_ms, cpu_both_ms, strict=True)])}}


def api_latency(base_url: str, token: str, seed: int, rounds: int = ROUNDS, server_pid: int | None = None) -> dict:
    """Through ``GET /api/v1/messages``; CPU is the serving process's (``server_pid``), summed
    over its threads from ``/proc/PID/task/*/schedstat`` (nanoseconds; ``stat`` counts 10 ms
    ticks, too coarse for one request). Waitress serves from a fixed pool of threads, so no
    thread that did a request's work has exited before it is read."""

    def server_cpu() -> float:
        if not server_pid:
            return 0.0
        total = 0
        for stat in Path(f"/proc/{server_pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(stat.read_text().split()[0])
        return total / 1e9

    def run_one(params: dict[str, str]) -> int:
        url = f"{base_url}/api/v1/messages?" + urllib.parse.urlencode({**params, "limit": "50"})
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(json.load(response)["total"])

    return _measure(run_one, seed, rounds, cpu=server_cpu)


def scan_rate(config: Config, year: tuple[str, str] = ("2025-01-01", "2025-12-31"),
              batch_size: int = 500) -> dict:  # fmt: skip
    """The export scan: every message of the corpus year through ``Store.scan`` (what Export All
    and POP3 read), in messages and MB of summary data per second."""
    store = open_store(config)
    try:
        store.refresh()
        criteria = parse_criteria({"from": year[0], "to": year[1]}, tz=config.timezone)
        started, count, size = time.perf_counter(), 0, 0
        for message in store.scan(criteria, batch_size=batch_size):
            count += 1
            size += message.size
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return {"messages": count, "seconds": round(seconds, 2), "batch_size": batch_size,
            "msg_per_s": round(count / seconds, 1) if seconds else None,
            "raw_mb_covered": round(size / 1e6, 1)}  # fmt: skip
