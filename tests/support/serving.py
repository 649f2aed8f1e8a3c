"""``mailarchive serve`` as a real subprocess, for the tests that meet it as a new user would.

Shared by the start-up tests (source checkout) and the wheel test (installed package): both need a
clean environment and to wait for the "Press Ctrl+C" line before talking to it, then a SIGTERM
that must end it with status 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[2]


def serve_env(data_dir: Path, **ports: int) -> dict[str, str]:
    """A clean environment for a ``mailarchive`` subprocess: no developer MAILARCHIVE_* leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")}
    env.update({"MAILARCHIVE_DATA_DIR": str(data_dir), "MAILARCHIVE_CONFIG": "none",
                "MAILARCHIVE_WEB_PORT": str(ports.get("web", 0)), "MAILARCHIVE_SMTP_PORT": str(ports.get("smtp", 0)),
                "MAILARCHIVE_POP3_PORT": str(ports.get("pop3", 0))})  # fmt: skip
    return env


@contextmanager
def serving(command: Sequence[str | Path], env: dict[str, str], cwd: Path) -> Iterator[list[str]]:
    """Run ``command`` (a ``serve``) until it says it is ready; yield its lines so far, then SIGTERM it."""
    proc = subprocess.Popen([str(c) for c in command], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        assert proc.stdout is not None
        while not lines or not lines[-1].startswith("Press Ctrl+C"):
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise AssertionError("serve did not start:\n" + "".join(lines) + (proc.stdout.read() or ""))
            lines.append(line)
        yield lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
            proc.wait()


class KillableDaemon:
    """One daemon of ``python -m server serve --only NAME`` on a fixed loopback port, for the crash tests:
    started (ready once it greets with ``greeting``), signalled (SIGKILL mid-work) and started again
    on the same data dir and port."""

    def __init__(self, only: str, env: dict[str, str], port: int, greeting: bytes) -> None:
        self.only, self.env, self.port, self.greeting = only, env, port, greeting
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--only", self.only], cwd=ROOT,
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._greets():
            if time.monotonic() > deadline:
                raise AssertionError(f"serve --only {self.only} did not greet within {START_TIMEOUT} s")
            time.sleep(0.1)

    def _greets(self) -> bool:
        assert self.proc is not None and self.proc.stderr is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"serve --only {self.only} exited: {self.proc.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                return sock.recv(64).startswith(self.greeting)
        except OSError:
            return False

    def signal(self, sig: signal.Signals) -> int:
        """Send ``sig`` and wait for the exit; the exit status (``-9`` after SIGKILL)."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(30)

    def stop(self) -> None:
        """Kill the daemon if it still runs: a test that fails between two signals must not leave a
        receiver behind on its port and data dir."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
