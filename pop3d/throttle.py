"""Failed POP3 logins: a growing delay before each refusal, then a temporary lockout.

Two kinds of key are counted over a sliding window: the client address (one host guessing) and
the account (many hosts guessing the one archive account). Each failure from an address doubles
the pause before its ``-ERR`` (1 s, 2 s, 4 s ... up to ``max_delay``), which makes guessing slow
without hurting a client that mistyped once; at ``address_limit`` failures the address is locked
out, at ``account_limit`` failures from anywhere the account is. A lockout refuses even the right
password (no password is checked while locked, so it also spares the argon2 cost). A success
clears its address's count, never the account's: an attacker must not reset the account count by
letting the real client log in. The counts live in the daemon's memory; a restart forgets them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000  # tracked addresses before expired ones are swept (a spray of many hosts)


@dataclass(frozen=True)
class ThrottlePolicy:
    window_seconds: float = 15 * 60
    base_delay: float = 1.0
    max_delay: float = 16.0
    address_limit: int = 10
    address_lockout: float = 15 * 60
    account_limit: int = 50
    account_lockout: float = 5 * 60


@dataclass(frozen=True)
class Verdict:
    """What one failure means: pause ``delay`` seconds, and ``locked_for`` > 0 if a lockout began."""

    delay: float
    locked_for: float
    failures: int  # from this address within the window


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def locked_for(self, address: str, account: str) -> int:
        """Whole seconds until a login from ``address`` to ``account`` is considered again; 0: now."""
        now = self.clock()
        with self._lock:
            ends = [self._locked_until.get(key, 0.0) for key in self._keys(address, account)]
        return max(0, math.ceil(max(ends) - now))

    def failed(self, address: str, account: str) -> Verdict:
        p = self.policy
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._sweep(now)
            by_address, by_account = (self._record(key, now) for key in self._keys(address, account))
            locked = 0.0
            for key, count, limit, span in (
                (("address", address), by_address, p.address_limit, p.address_lockout),
                (("account", account.lower()), by_account, p.account_limit, p.account_lockout),
            ):
                if count >= limit and self._locked_until.get(key, 0.0) <= now:
                    self._locked_until[key] = now + span
                    self._failures.pop(key, None)  # the lockout is the penalty; count afresh after it
                    locked = max(locked, span)
        delay = min(p.max_delay, p.base_delay * 2 ** (by_address - 1))
        return Verdict(delay=delay, locked_for=locked, failures=by_address)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(("address", address), None)

    def _keys(self, address: str, account: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("address", address), ("account", account.lower())

    def _record(self, key: tuple[str, str], now: float) -> int:
        times = self._failures.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - self.policy.window_seconds:
            times.popleft()
        return len(times)

    def _sweep(self, now: float) -> None:
        horizon = now - self.policy.window_seconds
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= horizon]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]
