"""A CPU-time budget for parsing one message, so hostile mail cannot stall an import or the spool drainer.

Parsing is linear for real mail, but the stdlib's MIME code has quadratic corners (re-serialising
nested message/rfc822 parts, folding headers of tens of thousands of words): the fuzz runs found a
470 KB message that took 70 s. Past the budget ``parse`` gives up on the full parse and falls back to
the header block scanned from the raw bytes; the raw message is archived as always, with the
problem in its ``parse_errors``.

The budget is the parsing thread's CPU time, not wall-clock time: on a loaded machine a parse waits
for a core, and a wall-clock budget then cut short ordinary messages (222 of 10,000 fuzzed messages at
a load of 20, where a quiet machine cut a handful). A wall-clock backstop ``WALL_FACTOR`` times larger
still ends a parse that is blocked rather than computing.

Two ways to stop the work: in a process's main thread (the import's parser processes, the spool
drainer process, a single-process import) interval timers raise ``BudgetExceeded`` wherever the parser
is: ``ITIMER_PROF`` counts the process's CPU time, and its handler compares the thread's own CPU time
(``time.thread_time``) with the deadline and re-arms for the rest if other threads used the CPU;
``ITIMER_REAL`` is the backstop. Elsewhere (a thread) ``check()``, called by the MIME walk at every
part, raises it once either deadline has passed. ``BudgetExceeded`` derives from ``BaseException`` so
the parser's own ``except Exception`` guards for broken input do not swallow it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

PARSE_BUDGET_SECONDS = 10.0  # CPU seconds of the parsing thread
WALL_FACTOR = 6.0  # the wall-clock backstop, in budgets: a parse blocked (not computing) ends too
_MIN_REARM = 0.01  # seconds: setitimer(0) would disarm the timer
_local = threading.local()


class BudgetExceeded(BaseException):  # noqa: N818 - an interruption like KeyboardInterrupt, not an error
    """The message used more CPU time than its budget (or, blocked, ``WALL_FACTOR`` times it in wall time)."""

    def __init__(self, wall: bool = False) -> None:
        super().__init__("wall-clock backstop" if wall else "CPU budget")
        self.wall = wall


@dataclass(frozen=True)
class _Deadline:
    cpu: float  # time.thread_time() of the budgeted thread
    wall: float  # time.monotonic()

    def passed(self) -> BudgetExceeded | None:
        if time.thread_time() > self.cpu:
            return BudgetExceeded()
        if time.monotonic() > self.wall:
            return BudgetExceeded(wall=True)
        return None


def check() -> None:
    """Raise ``BudgetExceeded`` if the current budget (if any) has run out."""
    deadline: _Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None and (exceeded := deadline.passed()) is not None:
        raise exceeded


def _on_cpu_timer(signum: int, frame: object) -> None:
    """SIGPROF: the process used the budget's CPU; the parse is over only if this thread used it."""
    deadline: _Deadline | None = getattr(_local, "deadline", None)
    if deadline is None:
        return
    left = deadline.cpu - time.thread_time()
    if left <= 0:
        raise BudgetExceeded
    signal.setitimer(signal.ITIMER_PROF, max(left, _MIN_REARM))


def _on_wall_timer(signum: int, frame: object) -> None:
    raise BudgetExceeded(wall=True)


def _timer_free(which: int, signum: int, handler: object) -> bool:
    return signal.getitimer(which)[0] == 0 and signal.getsignal(signum) in (signal.SIG_DFL, signal.SIG_IGN, None,
                                                                            handler)  # fmt: skip


def _can_use_timers() -> bool:
    """Only the main thread gets signals, and only if nothing else (a profiler, pytest-timeout) uses the timers."""
    return (threading.current_thread() is threading.main_thread()
            and _timer_free(signal.ITIMER_PROF, signal.SIGPROF, _on_cpu_timer)
            and _timer_free(signal.ITIMER_REAL, signal.SIGALRM, _on_wall_timer))


@contextmanager
def budget(seconds: float, wall_factor: float = WALL_FACTOR) -> Iterator[None]:
    """Run the block with ``seconds`` of this thread's CPU time, and at most ``seconds * wall_factor`` of
    wall-clock time (nested budgets keep the outer deadlines where they are earlier)."""
    outer: _Deadline | None = getattr(_local, "deadline", None)
    deadline = _Deadline(time.thread_time() + seconds, time.monotonic() + seconds * wall_factor)
    if outer is not None:
        deadline = _Deadline(min(deadline.cpu, outer.cpu), min(deadline.wall, outer.wall))
    _local.deadline = deadline
    timers = outer is None and _can_use_timers()
    if timers:
        previous = signal.signal(signal.SIGPROF, _on_cpu_timer), signal.signal(signal.SIGALRM, _on_wall_timer)
        signal.setitimer(signal.ITIMER_PROF, seconds)
        signal.setitimer(signal.ITIMER_REAL, seconds * wall_factor)
    try:
        yield
    finally:
        if timers:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGPROF, previous[0])
            signal.signal(signal.SIGALRM, previous[1])
        _local.deadline = outer
