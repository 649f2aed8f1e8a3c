"""Login rate limiting: too many failed sign-ins from one address are refused for a while.

Two windows: per (source address, user name), so one user's password cannot be guessed, and per
source address alone, so one client cannot spray many user names. The counts live in memory of
the web process (one process serves the console); a restart forgets them, which is acceptable for
a limiter whose job is to make guessing slow, not impossible to retry.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

MAX_KEYS = 10_000  # tracked (address, name) pairs before expired ones are swept


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_failures_per_ip: int = 20,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_failures_per_ip = max_failures_per_ip
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, ip: str, username: str) -> int:
        """Seconds until a sign-in from ``ip`` as ``username`` is accepted again; 0: now."""
        with self._lock:
            now = self.clock()
            waits = [
                self._wait(("ip", ip), self.max_failures_per_ip, now),
                self._wait((ip, username.lower()), self.max_failures, now),
            ]
        return max(waits)

    def failed(self, ip: str, username: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._failures) >= MAX_KEYS:  # many sprayed names: drop what has expired
                self._forget_expired(now)
            self._failures[("ip", ip)].append(now)
            self._failures[(ip, username.lower())].append(now)

    def succeeded(self, ip: str, username: str) -> None:
        """A correct password clears that user's count from that address (not the address's)."""
        with self._lock:
            self._failures.pop((ip, username.lower()), None)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - self.window]:
            del self._failures[key]

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
