"""The login throttle's windows, with a controllable clock (the limiter's own logic, no app)."""

from __future__ import annotations

from server.web import throttle as throttle_module
from server.web.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_slides_and_success_clears_the_pair() -> None:
    clock = Clock()
    limiter = LoginThrottle(max_failures=3, max_failures_per_ip=10, window_seconds=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1", "Alice") == 0
        limiter.failed("10.0.0.1", "Alice")
        clock.now += 10
    assert limiter.retry_after("10.0.0.1", "alice") == 30  # failures at 1000, 1010, 1020; window 60; now 1030
    assert limiter.retry_after("10.0.0.2", "alice") == 0  # another address
    clock.now += 29
    assert limiter.retry_after("10.0.0.1", "alice") == 1
    clock.now += 1
    assert limiter.retry_after("10.0.0.1", "alice") == 0
    limiter.failed("10.0.0.1", "alice")
    limiter.succeeded("10.0.0.1", "alice")
    assert limiter.retry_after("10.0.0.1", "alice") == 0


def test_one_address_spraying_names_is_limited() -> None:
    clock = Clock()
    limiter = LoginThrottle(max_failures=3, max_failures_per_ip=5, window_seconds=60, clock=clock)
    for n in range(5):
        limiter.failed("10.0.0.9", f"user{n}")
    assert limiter.retry_after("10.0.0.9", "somebody-else") == 60


def test_expired_entries_are_swept(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(throttle_module, "MAX_KEYS", 10)
    clock = Clock()
    limiter = LoginThrottle(window_seconds=60, clock=clock)
    for n in range(20):
        limiter.failed(f"10.0.1.{n}", "x")
        clock.now += 100  # each pair has expired before the next failure
    assert len(limiter._failures) <= 12
