"""The test engine: one real Elasticsearch node (``engine/run``) started for a test session.

``engine/run`` builds the launcher with Maven on first use (jars from Maven Central, cached in
``~/.m2``), starts the node on 127.0.0.1 with a free port and its data in a temporary directory,
and prints ``MAILARCHIVE_TEST_ES_URL=http://127.0.0.1:PORT`` once the cluster is ready. The node
is started with ``--exit-on-stdin-eof`` and this process holds its standard input: when the test
run ends — normally, by Ctrl-C or killed — the pipe closes and the node stops and deletes its data,
so no node outlives the run that started it.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "engine" / "run"
URL_PREFIX = "MAILARCHIVE_TEST_ES_URL="
START_TIMEOUT = 600.0  # a first start on a fresh machine includes the Maven download and build
STOP_TIMEOUT = 60.0


class EngineError(RuntimeError):
    """The engine could not be started; the message ends with the tail of its log."""


class EngineNode:
    """A running ``engine/run`` process and its URL."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    @classmethod
    def start(
        cls, *, port: int = 0, data: Path | None = None, refresh_interval: str | None = None,
        timeout: float = START_TIMEOUT,
    ) -> EngineNode:  # fmt: skip
        """``data``: keep the node's data there (on disk) instead of a temporary directory;
        ``refresh_interval``: default of new indices (the launcher's default is Elasticsearch's 1s)."""
        command = [str(RUN), "--exit-on-stdin-eof", "--port", str(port)]
        if data is not None:
            command += ["--data", str(data)]
        if refresh_interval:
            command += ["--refresh-interval", refresh_interval]
        log = Path(tempfile.mkstemp(prefix="mailarchive-engine-", suffix=".log")[1])
        with log.open("ab") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                start_new_session=True,  # Ctrl-C reaches pytest only; the node stops when stdin closes
            )  # fmt: skip
        try:
            url = _read_url(process, log, timeout)
        except BaseException:
            _stop(process)
            raise
        return cls(process, url, log)

    def close(self) -> None:
        _stop(self.process)
        self.log.unlink(missing_ok=True)


def _read_url(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    assert process.stdout is not None
    deadline, pending = time.monotonic() + timeout, b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break  # stdout closed: the engine exited
            pending += chunk
            for line in pending.decode(errors="replace").splitlines():
                if line.startswith(URL_PREFIX):
                    return line[len(URL_PREFIX):].strip()
        elif process.poll() is not None:
            break
    process.poll()
    state = "exited" if process.returncode is not None else f"not ready after {timeout:.0f} s"
    tail = log.read_text(errors="replace")[-3000:]
    raise EngineError(f"the test engine ({RUN}) {state}; its log ends:\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()  # --exit-on-stdin-eof: the node shuts down and deletes its data
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
