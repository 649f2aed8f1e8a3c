"""Failed POP3 logins: growing delay, lockout per address and per account (driven by a fake clock)."""

from __future__ import annotations

from pop3d.throttle import LoginThrottle, ThrottlePolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


POLICY = ThrottlePolicy(window_seconds=600, base_delay=1, max_delay=8, address_limit=4, address_lockout=300,
                        account_limit=6, account_lockout=120)  # fmt: skip


def test_delay_doubles_up_to_the_maximum_then_the_address_is_locked() -> None:
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock=clock)
    delays = [throttle.failed("10.0.0.1", "archive").delay for _ in range(3)]
    assert delays == [1, 2, 4]
    assert throttle.locked_for("10.0.0.1", "archive") == 0
    verdict = throttle.failed("10.0.0.1", "archive")
    assert verdict.delay == 8 and verdict.locked_for == 300
    assert throttle.locked_for("10.0.0.1", "archive") == 300
    assert throttle.locked_for("10.0.0.2", "archive") == 0  # another host is not locked out by this one
    clock.now += 301
    assert throttle.locked_for("10.0.0.1", "archive") == 0


def test_account_lockout_counts_failures_from_every_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock=clock)
    for n in range(6):
        verdict = throttle.failed(f"10.0.1.{n}", "archive")
    assert verdict.locked_for == 120
    assert throttle.locked_for("192.0.2.9", "ARCHIVE") == 120  # the account itself is locked, from anywhere


def test_success_clears_the_address_but_not_the_account() -> None:
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock=clock)
    for _ in range(3):
        throttle.failed("10.0.0.1", "archive")
    throttle.succeeded("10.0.0.1")
    assert throttle.failed("10.0.0.1", "archive").delay == 1  # counting starts again for this host
    for n in range(2):
        verdict = throttle.failed(f"10.0.2.{n}", "archive")
    assert verdict.locked_for == 120  # 3 + 1 + 2 = 6 failures on the account


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(POLICY, clock=clock)
    for _ in range(3):
        throttle.failed("10.0.0.1", "archive")
    clock.now += 601
    assert throttle.failed("10.0.0.1", "archive").delay == 1
