"""Sign-in guessing from many addresses (issue 17): 150 guesses from 30 loopback addresses at one
account are not all answered; the account locks with a growing delay, the lock is audited and the
message says so; once the lock has expired the right password signs in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from server.users import Role
from server.web.context import THROTTLE, services_of
from server.web.throttle import LoginThrottle
from tests.support.web import PASSWORD, csrf_token, running_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(config) -> Iterator[Flask]:  # noqa: ANN001
    with running_app(config, {"alice": Role.ARCHIVE_ADMIN}) as app:
        app.extensions[THROTTLE].clock = Clock()
        yield app


def _try(app: Flask, address: str, password: str):  # noqa: ANN202
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/login", data={"username": "alice", "password": password, "csrf_token": csrf_token(client)})


def test_many_addresses_cannot_guess_one_account(app: Flask) -> None:
    statuses = [_try(app, f"127.0.0.{n % 30 + 2}", f"guess number {n}").status_code for n in range(150)]
    answered = statuses.count(200)  # the "wrong user name or password" page: the guess was checked
    assert answered == 10 and statuses.count(429) == 140
    refused = _try(app, "127.0.0.99", PASSWORD)  # during the lock even the right password is refused
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 30
    assert "This account is locked after too many failed sign-ins" in refused.get_data(as_text=True)
    locks = [e for e in services_of(app).store.audit_scan() if e.details.get("account_locked_seconds")]
    assert [(e.operation, e.target, e.result, e.details["account_locked_seconds"]) for e in locks] == [
        ("login_failed", "alice", "denied", 30)]  # fmt: skip
    app.extensions[THROTTLE].clock.now += 31
    assert _try(app, "127.0.0.100", PASSWORD).status_code == 302  # lock expired: the right password works


def test_the_delay_grows_with_each_failure_after_the_lock() -> None:
    clock = Clock()
    limiter = LoginThrottle(account_free=3, account_delay=30, account_max_delay=300, clock=clock)
    delays = []
    for n in range(8):
        delays.append(limiter.failed(f"10.0.0.{n}", "Alice"))
        clock.now += limiter.retry_after("10.9.9.9", "alice") + 1  # wait out every lock
    assert delays == [0, 0, 30, 60, 120, 240, 300, 300]
    limiter.succeeded("10.0.0.1", "alice")
    assert limiter.failed("10.0.0.1", "alice") == 0  # a success starts the count again


def test_a_quiet_window_forgets_old_failures() -> None:
    clock = Clock()
    limiter = LoginThrottle(account_free=3, window_seconds=60, clock=clock)
    limiter.failed("10.0.0.1", "bob")
    limiter.failed("10.0.0.2", "bob")
    clock.now += 61
    assert limiter.failed("10.0.0.3", "bob") == 0 and limiter.account_locked("bob") == 0
