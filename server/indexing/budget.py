"""A wall-clock budget for parsing one message, so hostile mail cannot stall an import or the spool drainer.

Parsing is linear for real mail, but the stdlib's MIME code has quadratic corners (re-serialising
nested message/rfc822 parts, folding headers of tens of thousands of words): the fuzz runs found a
470 KB message that took 70 s. Past the budget ``parse`` gives up on the full parse and falls back to
the header block scanned from the raw bytes; the raw message is archived as always, with the
problem in its ``parse_errors``.

Two ways to stop the work: in a process's main thread (the import's parser processes, the spool
drainer process, a single-process import) an interval timer raises ``BudgetExceeded`` wherever the
parser is; elsewhere (a thread) ``check()``, called by the MIME walk at every part, raises it once
the deadline has passed. ``BudgetExceeded`` derives from ``BaseException`` so the parser's own
``except Exception`` guards for broken input do not swallow it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

PARSE_BUDGET_SECONDS = 10.0
_local = threading.local()


class BudgetExceeded(BaseException):  # noqa: N818 - an interruption like KeyboardInterrupt, not an error
    """The message took longer than its budget to parse."""


def check() -> None:
    """Raise ``BudgetExceeded`` if the current budget (if any) has run out."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceeded


def _raise(signum: int, frame: object) -> None:
    raise BudgetExceeded


def _can_use_timer() -> bool:
    """Only the main thread gets signals, and only if nothing else uses the real-time timer."""
    return (threading.current_thread() is threading.main_thread() and signal.getitimer(signal.ITIMER_REAL)[0] == 0
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None, _raise))


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Run the block with a deadline ``seconds`` from now (nested budgets keep the outer, earlier one)."""
    outer = getattr(_local, "deadline", None)
    deadline = time.monotonic() + seconds
    _local.deadline = min(deadline, outer) if outer is not None else deadline
    timer = outer is None and _can_use_timer()
    if timer:
        previous = signal.signal(signal.SIGALRM, _raise)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        _local.deadline = outer
