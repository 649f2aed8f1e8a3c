"""The parse budget counts the parsing thread's CPU time, with a wall-clock backstop (server.indexing.budget).

No timing asserts: every case either burns CPU until the budget stops it, or sleeps (no CPU) for
several times a budget and must not be stopped, with a backstop so large that load cannot reach it.
The timer path runs in a fresh interpreter, because under pytest the main thread's SIGALRM belongs
to pytest-timeout (the budget then falls back to ``check()``, tested in a thread here).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from server.indexing.budget import BudgetExceeded, budget, check

ROOT = Path(__file__).resolve().parents[2]


def burn_until_stopped(checking: bool) -> BudgetExceeded:
    """Spin in pure Python until the budget stops it (at most 10 minutes of wall clock, then fail)."""
    give_up = time.monotonic() + 600
    try:
        while time.monotonic() < give_up:
            sum(range(1000))
            if checking:
                check()
    except BudgetExceeded as exc:
        return exc
    raise AssertionError("the budget never stopped the loop")


def in_thread(work: Callable[[], object]) -> object:
    results: list = []
    worker = threading.Thread(target=lambda: results.append(work()))
    worker.start()
    worker.join(660)
    assert not worker.is_alive()
    return results[0]


def test_in_a_thread_sleeping_past_the_budget_does_not_trip_it_but_computing_does() -> None:
    def work() -> tuple[str, bool]:
        with budget(0.2, wall_factor=1000):
            time.sleep(0.6)  # three budgets of wall time, (almost) no CPU
            check()
            exc = burn_until_stopped(checking=True)
        return "slept", exc.wall

    assert in_thread(work) == ("slept", False)


def test_in_a_thread_the_wall_clock_backstop_ends_a_blocked_parse() -> None:
    def work() -> bool:
        with budget(0.1, wall_factor=3), pytest.raises(BudgetExceeded) as raised:
            time.sleep(0.5)  # blocked past 3 budgets of wall time
            check()
        return raised.value.wall

    assert in_thread(work) is True


def test_nested_budgets_keep_the_earlier_deadline() -> None:
    def work() -> bool:
        with budget(0.1, wall_factor=3), budget(60, wall_factor=1000), pytest.raises(BudgetExceeded) as raised:
            time.sleep(0.5)
            check()
        return raised.value.wall

    assert in_thread(work) is True


MAIN_THREAD = r"""
import json, sys, threading, time
from server.indexing.budget import BudgetExceeded, budget
from server.indexing.parse import parse
from tests.fuzz.test_parse_regressions import nested_rfc822_chain
from tests.unit.test_parse_budget import burn_until_stopped

out = {}
with budget(0.2, wall_factor=1000):
    time.sleep(0.6)
out["slept"] = True
with budget(0.2, wall_factor=1000):
    out["burn_stopped_by_wall"] = burn_until_stopped(checking=False).wall
try:
    with budget(0.1, wall_factor=3):
        time.sleep(120)
    out["blocked"] = "not stopped"
except BudgetExceeded as exc:
    out["blocked"] = "wall" if exc.wall else "cpu"
spinning = threading.Event()
def spin():
    spinning.set()
    give_up = time.thread_time() + 1.0
    while time.thread_time() < give_up:
        sum(range(1000))
other = threading.Thread(target=spin)
other.start()
spinning.wait()
with budget(0.2, wall_factor=1000):
    other.join()  # the process uses a second of CPU, this thread none: the timer re-arms, no exception
out["other_thread_cpu_not_counted"] = True
# 1 s of CPU, or on a machine too loaded to give it that within 6 s, the backstop: either way it ends
out["chain"] = parse(nested_rfc822_chain(), seconds=1.0).parse_errors[0].startswith("parse: over the time budget (")
print(json.dumps(out))
"""


def test_in_a_main_thread_the_interval_timers_count_this_threads_cpu_and_the_backstop_ends_a_block() -> None:
    proc = subprocess.run([sys.executable, "-c", MAIN_THREAD], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "slept": True,
        "burn_stopped_by_wall": False,  # the CPU timer stopped a loop that never calls check()
        "blocked": "wall",
        "other_thread_cpu_not_counted": True,
        "chain": True,
    }
