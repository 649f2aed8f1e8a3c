"""The worker as ``mailarchive serve`` (``make run``) runs it: Redis up first, then one
``mailarchive worker`` process, restarted if it dies.

The worker is a child process rather than a thread because RQ forks a work horse per job and
handles its own signals, which only works in a main thread. This process starts (or attaches to)
the embedded Redis before the worker does, so both share one server; the worker is in its own
session (its output in ``DATA_DIR/worker.log``), so Ctrl+C reaches only ``serve``, which then stops it: SIGTERM (RQ's warm shutdown lets
a running export finish), a second SIGTERM after a grace period (cold: the export is abandoned and
retried from the start when a worker comes back), SIGKILL as the last resort.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from server.config import Config
from server.jobs.broker import QUEUE_NAME, broker_for, close_all
from server.store import open_store

log = logging.getLogger(__name__)

LOG_NAME = "worker.log"
WARM_GRACE = 10.0  # seconds a running job gets to finish when serve stops
RESTART_DELAY = 5.0


class WorkerDaemon:
    name = "worker"

    def __init__(self, config: Config) -> None:
        """Binds nothing (no listener): Redis and the worker come up in ``start``."""
        self.config = config
        self.broker = broker_for(config)
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)

    def start(self) -> WorkerDaemon:
        open_store(self.config).close()  # on a first start: the worker refuses a data dir without an archive
        self.broker.connection()  # start or attach to Redis here, so the worker attaches to the same
        self._spawn()
        self._thread.start()
        return self

    def describe(self) -> str:
        pid = self.process.pid if self.process else "not started"
        return f"job worker (pid {pid}) on queue '{QUEUE_NAME}', {self.broker.where}; log {self.log_path}"

    def stop(self) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            for sig, wait in ((signal.SIGTERM, WARM_GRACE), (signal.SIGTERM, WARM_GRACE), (signal.SIGKILL, None)):
                process.send_signal(sig)
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._thread.is_alive():
            self._thread.join(timeout=RESTART_DELAY + 1)
        close_all()  # the embedded Redis stops here if no other process uses it

    @property
    def log_path(self) -> Path:
        return Path(self.config.data_dir) / LOG_NAME

    def _spawn(self) -> None:
        """The worker's own output goes to its log file, so the console keeps ``serve``'s lines."""
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen([sys.executable, "-m", "server", "worker"], start_new_session=True,
                                            env={**os.environ, "MAILARCHIVE_DATA_DIR": str(self.config.data_dir)},
                                            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                self.restarts += 1
                log.warning("job worker exited with %s; starting it again (restart %d)", process.returncode,
                            self.restarts)
                self._spawn()
            self._stopping.wait(RESTART_DELAY)


def bind(config: Config) -> WorkerDaemon:
    return WorkerDaemon(config)
