"""Peak memory of a process tree, sampled from /proc (Linux).

The importer may fork parser processes, so the figure that matters is the sum over the whole tree.
RSS counts pages shared between parent and forked children once per process, so the sum is an upper
bound; PSS (``smaps_rollup``) splits shared pages fairly and is recorded beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(_children(current))
    return pids


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of one live process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _rss_anon(pid: int) -> int:
    """Anonymous resident memory: the heap, without file pages (SQLite's mmap of the database
    file shows up in RSS but is page cache the kernel can drop)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _io_counter(pid: int, field: str) -> int:
    """One counter of ``/proc/PID/io`` (0 once the process is gone or the file is unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _read_bytes(pid: int) -> int:
    """Bytes the process has read so far (``rchar``): the import's progress through the corpus."""
    return _io_counter(pid, "rchar")


def _position(pid: int) -> dict[str, float | str]:
    """Which mail file the process is reading and how far into it (its progress through a corpus)."""
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(fd)
            if target.endswith((".mbox", ".eml")):
                pos = next(line for line in Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().splitlines()
                           if line.startswith("pos:"))
                return {"file": Path(target).name, "pos_mb": round(int(pos.split()[1]) / 1e6, 1)}
        except (OSError, ValueError, StopIteration):
            continue
    return {}


def write_bytes(pid: int) -> int:
    """Bytes the process caused to be written to storage so far (``/proc/PID/io`` write_bytes:
    page-cache pages it dirtied, counted once each, whatever is coalesced later)."""
    return _io_counter(pid, "write_bytes")


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class TreeMemorySampler:
    """Samples the tree of ``pid`` every ``interval`` seconds in a thread until ``stop()``."""

    def __init__(self, pid: int, interval: float = 0.25, timeline_every: float = 2.0,
                 progress: Path | None = None) -> None:
        self.pid, self.interval = pid, interval
        self.timeline_every, self.progress = timeline_every, progress
        self.timeline: list[dict[str, float]] = []  # memory and bytes read over time: is memory flat?
        self._started = time.monotonic()
        self._next_point = 0.0
        self.peak_rss = self.peak_pss = self.peak_anon = self.peak_processes = self.samples = 0
        self.peak_single_rss = 0  # largest single process (the importer itself, usually)
        self.root_cpu = 0.0  # CPU of the root process alone: the serial part when it farms out work
        self.written: dict[int, int] = {}  # write_bytes per process of the tree, last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def sample(self) -> None:
        pids = tree(self.pid)
        rss = [_rss(p) for p in pids]
        self.peak_rss = max(self.peak_rss, sum(rss))
        self.peak_single_rss = max(self.peak_single_rss, max(rss, default=0))
        self.peak_processes = max(self.peak_processes, len(pids))
        if self.samples % 4 == 0:  # smaps_rollup is costlier to read; once a second is plenty
            self.peak_pss = max(self.peak_pss, sum(_pss(p) for p in pids))
            self.peak_anon = max(self.peak_anon, sum(_rss_anon(p) for p in pids))
        self.samples += 1
        self.root_cpu = max(self.root_cpu, cpu_seconds(self.pid))
        for pid in pids:
            self.written[pid] = max(self.written.get(pid, 0), write_bytes(pid))
        elapsed = time.monotonic() - self._started
        if elapsed >= self._next_point:
            self._next_point = elapsed + self.timeline_every
            self._record(elapsed, sum(rss))

    def _record(self, elapsed: float, rss: int) -> None:
        pids = tree(self.pid)
        point = {"t": round(elapsed, 1), "rss_mb": round(rss / 2**20, 1),
                 "anon_mb": round(sum(_rss_anon(p) for p in pids) / 2**20, 1),
                 "read_mb": round(_read_bytes(self.pid) / 1e6, 1),
                 "written_mb": round(sum(self.written.values()) / 1e6, 1), **_position(self.pid)}
        self.timeline.append(point)
        if self.progress is not None:
            with self.progress.open("a") as fh:
                fh.write(json.dumps(point) + "\n")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        mb = 1024 * 1024
        return {
            "peak_rss_mb": round(self.peak_rss / mb, 1),
            "peak_pss_mb": round(self.peak_pss / mb, 1),
            "peak_anon_rss_mb": round(self.peak_anon / mb, 1),
            "peak_single_process_rss_mb": round(self.peak_single_rss / mb, 1),
            "peak_processes": self.peak_processes,
            "samples": self.samples,
            "root_process_cpu_seconds": round(self.root_cpu, 2),
            "sampled_write_bytes": sum(self.written.values()),
            "timeline": self.timeline,
        }
