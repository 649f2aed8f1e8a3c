"""Search through the HTTP API as a script would: ``mailarchive serve --only web`` and a bearer token.

Everything here goes through the public command line and HTTP surface (``user add``, ``user
use-link``, the console's API tokens page, ``GET /api/v1/messages``), so it measures what an
operator's tooling would see. Until the web app exists the harness records why it skipped this part
instead of failing.
"""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.backends import Unavailable
from bench.importrun import mailarchive_command
from bench.smtp_bench import free_port

ROOT = Path(__file__).resolve().parents[1]
BENCH_PASSWORD = "bench-password-1234"


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run([*mailarchive_command(), *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)
    if done.returncode:
        raise Unavailable(f"mailarchive {' '.join(args[:2])} failed: {done.stderr.strip()[-300:]}")
    return done.stdout


def api_token(env: dict[str, str], base: str, name: str = "bench") -> str:
    """An archive administrator's token, made the way the product allows it: the role takes effect
    once a password is set through the one-time link ``user add`` prints, and the token is made by
    that user on the console's API tokens page (the operator's ``user token`` refuses archive
    administrators; separation of duties, docs/security.md). ``name``: the user to add."""
    added = _cli(["user", "add", name, "--role", "archive-admin"], env)
    link = next(word for word in added.split() if "/set-password/" in word)
    _cli(["user", "use-link", link, "--password-stdin"], env, stdin=f"{BENCH_PASSWORD}\n")
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    _form(browser, f"{base}/login", {"username": name, "password": BENCH_PASSWORD})
    page = _form(browser, f"{base}/account/tokens", {"label": "benchmark", "current": BENCH_PASSWORD})
    found = re.search(r'id="token-value">(ma_[^<]+)<', page)
    if not found:
        raise Unavailable("the API tokens page showed no new token")
    return found.group(1)


def _form(browser: urllib.request.OpenerDirector, url: str, fields: dict[str, str]) -> str:
    """Submit a console form as a browser would: its page first, for the session's CSRF token."""
    with browser.open(url, timeout=30) as response:
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', response.read().decode())
    if not csrf:
        raise Unavailable(f"no CSRF token on {url}")
    body = urllib.parse.urlencode({**fields, "csrf_token": csrf.group(1)}).encode()
    with browser.open(url, data=body, timeout=30) as response:
        return response.read().decode()


@contextmanager
def web_server(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    if not (ROOT / "server" / "web" / "app.py").exists():
        raise Unavailable("the web app (server/web/app.py) does not exist yet")
    port = free_port()
    env = {**env, "MAILARCHIVE_WEB_PORT": str(port)}
    with log.open("w") as out:
        proc = subprocess.Popen([*mailarchive_command(), "serve", "--only", "web"], env=env, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, proc)
            yield base, proc.pid
        finally:
            terminate(proc)


def terminate(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if the server has not stopped within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"mailarchive serve --only web exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise Unavailable("the web app did not answer /healthz within 60 s")
