"""Turns at the write lock between a bulk import's long transactions and every other writer.

A bulk import commits in large groups (connection.py): every commit rewrites the leaves of the
random-key indexes it touched and each page the group dirtied, so the fewer the commits, the fewer
bytes an import writes (bench/wal_pages.py at 100 k: 2.89x the database with 52 commits, modelled
2.12x with a twentieth of them). But SQLite's lock is not fair: a console search writing its audit
entry would wait for the whole group (``BUSY_TIMEOUT_MS`` at most), so the group length was bounded
by the wait acceptable to a person (5 s), not by the disk.

So a writer that finds the lock taken says so: it holds an exclusive ``flock`` on the
``<database>-wanted`` file while it waits for, and then runs, its transaction. The import tests
that lock (a non-blocking shared ``flock``) after each of its writes and commits at once when it is
held; before it opens its next group it waits for the shared lock, that is until the waiter has
committed. A waiter therefore waits for one batch of the import, never for its group, and the
group can be as long as the disk wants. ``flock`` locks belong to the open file description, not
to the process's POSIX record locks on the database (which closing any descriptor of *that* file
would drop: see private_files.py), and die with their process, so a killed waiter never blocks
the import. One descriptor per thread, so two waiting threads of one process are two waiters.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.private_files import private_file


class WriteTurns:
    """The ``-wanted`` lock file of one database, as each thread of this process sees it."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}-wanted")
        self._local = threading.local()
        self._fds: list[int] = []
        self._fds_lock = threading.Lock()

    def _fd(self) -> int:
        fd = getattr(self._local, "fd", None)
        if fd is None:
            private_file(self.path)
            fd = self._local.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            with self._fds_lock:
                self._fds.append(fd)
        return fd

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Held by a writer from the moment it found the lock taken until its transaction ends."""
        fd = self._fd()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def wanted(self) -> bool:
        """Whether a writer is waiting (the import's test after each write: two system calls)."""
        fd = self._fd()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False

    def let_through(self) -> None:
        """Before the import takes the lock again: wait until no writer is waiting or writing."""
        fd = self._fd()
        fcntl.flock(fd, fcntl.LOCK_SH)
        fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Every thread's descriptor (with the store's connections)."""
        with self._fds_lock:
            fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)
        self._local = threading.local()
