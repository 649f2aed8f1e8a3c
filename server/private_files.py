"""Owner-only modes for the archive's files, whatever the process umask.

The data directory holds every archived message, the audit log and the session signing key, so
nobody but the service account may read it: directories are 0700 and files 0600. ``os.open``'s
mode is only a ceiling (the umask can take bits away but a umask of 0 leaves 0666 for files that
sqlite creates itself), so the modes are set explicitly after creation.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it owner-only."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty if missing and make it owner-only (before anything is written to it).

    An existing file is never opened, only chmod-ed by name: closing any descriptor of a file drops
    every POSIX lock this process holds on it, and for a SQLite database that includes the shared
    lock of each open WAL connection. Another process closing its last connection then sees no
    reader, checkpoints and deletes the -wal/-shm under this one, whose later commits go to a
    deleted file and are lost (found by a serve whose first-start accounts never reached the disk).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        os.chmod(path, FILE_MODE)
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def restrict_existing(*paths: Path) -> None:
    """Make the files among ``paths`` that exist owner-only (sqlite's -wal/-shm appear on demand)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, FILE_MODE)
