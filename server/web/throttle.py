"""Login rate limiting: too many failed sign-ins are refused for a while.

Two windows: per (source address, user name), so one user's password cannot be guessed, and per
source address alone, so one client cannot spray many user names. And per account, whatever the
address: after ``account_free`` failures in a row the account is locked for ``account_delay``
seconds, doubling with every further failure up to ``account_max_delay`` (30 s, 60 s, 2 min ... 1 h),
so many addresses together (a botnet, or 30 loopback aliases) cannot guess one password either.
During a lock even the right password is refused; after it, the right password signs in and clears
the count. The price is that anyone can keep an account locked (at most ``account_max_delay`` at a
time); the lock start is audited, so it is seen. The counts live in memory of the web process (one
process serves the console); a restart forgets them, which is acceptable for a limiter whose job is
to make guessing slow, not impossible to retry.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000  # tracked (address, name) pairs and accounts before expired ones are swept


@dataclass
class AccountLock:
    failures: int = 0  # in a row, from any address
    last: float = 0.0
    until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_failures_per_ip: int = 20,
        window_seconds: float = 15 * 60,
        account_free: int = 10,
        account_delay: float = 30,
        account_max_delay: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_failures_per_ip = max_failures_per_ip
        self.window = window_seconds
        self.account_free = account_free
        self.account_delay = account_delay
        self.account_max_delay = account_max_delay
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._accounts: dict[str, AccountLock] = {}
        self._lock = threading.Lock()

    def retry_after(self, ip: str, username: str) -> int:
        """Seconds until a sign-in from ``ip`` as ``username`` is accepted again; 0: now."""
        with self._lock:
            now = self.clock()
            waits = [
                self._wait(("ip", ip), self.max_failures_per_ip, now),
                self._wait((ip, username.lower()), self.max_failures, now),
                self.account_locked(username, now),
            ]
        return max(waits)

    def account_locked(self, username: str, now: float | None = None) -> int:
        """Seconds the account itself stays locked (whatever the address); 0: not locked."""
        lock = self._accounts.get(username.lower())
        now = self.clock() if now is None else now
        return max(0, math.ceil(lock.until - now)) if lock else 0

    def failed(self, ip: str, username: str) -> int:
        """Count a failure; returns the seconds of an account lock it starts (0: none)."""
        with self._lock:
            now = self.clock()
            if len(self._failures) + len(self._accounts) >= MAX_KEYS:  # many sprayed names: drop what has expired
                self._forget_expired(now)
            self._failures[("ip", ip)].append(now)
            self._failures[(ip, username.lower())].append(now)
            lock = self._accounts.setdefault(username.lower(), AccountLock())
            if lock.last <= now - self.window and lock.until <= now:
                lock.failures = 0  # a quiet window since the last failure: start counting again
            lock.failures += 1
            lock.last = now
            if lock.failures < self.account_free:
                return 0
            delay = min(self.account_max_delay, self.account_delay * 2 ** (lock.failures - self.account_free))
            lock.until = now + delay
            return math.ceil(delay)

    def succeeded(self, ip: str, username: str) -> None:
        """A correct password clears that user's count from that address and the account's lock
        count (not the address's)."""
        with self._lock:
            self._failures.pop((ip, username.lower()), None)
            self._accounts.pop(username.lower(), None)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - self.window]:
            del self._failures[key]
        for name in [n for n, lock in self._accounts.items() if lock.until <= now and lock.last <= now - self.window]:
            del self._accounts[name]

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0
        if len(times) < limit:
            return 0
        return max(1, math.ceil(times[-limit] + self.window - now))
