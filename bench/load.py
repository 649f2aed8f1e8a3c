"""Load test (issue 17 deliverable 6): concurrent searches and POP3 sessions against one ``mailarchive serve``.

One ``mailarchive serve --only web,pop3`` on an archive; at once, ``--searches`` clients (default 50)
each send ``--requests`` searches through ``GET /api/v1/messages`` with a bearer token, cycling
through the fixed criteria mix of bench/queries.py from different offsets, and ``--pop3`` clients
(default 20) each run ``--sessions`` POP3 sessions: USER/PASS (the window opens), STAT, LIST, RETR
of ``--retr`` messages picked across the window, QUIT without DELE (so the position never moves and
every session sees the same window). Everything is bounded: a count per client, a timeout per
request and ``--max-seconds`` for the whole run, past which no client starts anything new.

Reported per kind (search, pop3 login, LIST, RETR, whole session): p50 / p95 / p99 / max latency in
ms and the errors by reason, plus the server's CPU seconds and peak RSS. Results go to
bench/results/load-TIMESTAMP.json; docs/reliability.md has the figures.

    python bench/load.py --archive DATA_DIR      # an existing SQLite archive (gets a user, a token,
                                                 # the POP3 password and audit entries: use a copy)
    python bench/load.py --size 3000             # a synthetic archive imported under bench/work
    make bench-load LOAD_ARGS="--archive bench/work/data-100k"

The POP3 daemon accepts at most 10 sessions from one address, as a guard against one client hogging
it, so each POP3 client connects from its own loopback address (127.0.0.2, 127.0.0.3, ...), as 20
downloaders on 20 hosts would. The clients are threads of this process on the same machine as the
server, so on a small machine they compete with it for the CPU: the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import bench.* from the repository, not bench/ itself
    sys.path[:1] = [str(Path(__file__).resolve().parents[1])]

from bench.importrun import bench_env, fresh_data_dir, mailarchive_command, run_import
from bench.latency import percentiles
from bench.options import RESULTS, ROOT
from bench.pop3_bench import Client
from bench.queries import query_mix
from bench.rss import TreeMemorySampler, cpu_seconds
from bench.smtp_bench import free_port
from bench.webapi import _cli, api_token, terminate

POP3_PASSWORD = "bench-load-pop3-password"
REQUEST_TIMEOUT = 120.0  # seconds for one search or one POP3 reply


@dataclass
class Kind:
    """Latencies (ms) and errors of one kind of request, filled by many client threads."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    def summary(self) -> dict:
        return {**percentiles(self.latencies_ms), "errors": sum(self.errors.values()), "error_reasons": dict(self.errors)}


class Recorder:
    def __init__(self) -> None:
        self.kinds: dict[str, Kind] = {}
        self._lock = threading.Lock()

    def timed(self, kind: str, call: Callable[[], object]) -> object | None:
        """Run ``call``, recording its wall time, or its error (then None) by a short reason."""
        started = time.perf_counter()
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - every failure is a figure of the run
            self.error(kind, _reason(exc))
            return None
        with self._lock:
            self.kinds.setdefault(kind, Kind()).latencies_ms.append((time.perf_counter() - started) * 1000)
        return result

    def error(self, kind: str, reason: str) -> None:
        with self._lock:
            self.kinds.setdefault(kind, Kind()).errors[reason] += 1


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    return f"{type(exc).__name__}: {str(exc)[:80]}"


# --- the clients ----------------------------------------------------------------------------------
def search_client(number: int, base: str, token: str, count: int, deadline: float, rec: Recorder) -> None:
    mix = query_mix(1)
    for i in range(count):
        if time.monotonic() > deadline:
            rec.error("search", "not started: --max-seconds reached")
            continue
        _, params = mix[(number * 7 + i) % len(mix)]
        url = f"{base}/api/v1/messages?" + urllib.parse.urlencode({**params, "limit": "50"})
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})

        def one(request: urllib.request.Request = request) -> int:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                return int(json.load(response)["total"])

        rec.timed("search", one)


def pop3_session(client: Client, retr: int, rng: random.Random, rec: Recorder) -> None:
    client.line()  # greeting
    client.command("USER archive")
    if rec.timed("pop3_login", lambda: client.command(f"PASS {POP3_PASSWORD}")) is None:
        raise RuntimeError("login failed")  # the session is an error too
    messages = int(client.command("STAT").split()[1])
    if rec.timed("pop3_list", lambda: _listing(client)) is None or not messages:
        return
    for number in sorted(rng.sample(range(1, messages + 1), min(retr, messages))):
        client.sock.sendall(f"RETR {number}\r\n".encode())
        if rec.timed("pop3_retr", client.multiline_size) is None:
            return
    client.command("QUIT")  # nothing deleted: the position stays, every session sees the same window


def _listing(client: Client) -> int:
    client.sock.sendall(b"LIST\r\n")
    return client.multiline_size()


def pop3_client(number: int, port: int, sessions: int, retr: int, deadline: float, rec: Recorder) -> None:
    rng = random.Random(f"load:{number}")
    source = f"127.0.0.{2 + number}"  # at most 10 sessions per address (pop3d.listener.Limits)
    for _ in range(sessions):
        if time.monotonic() > deadline:
            rec.error("pop3_session", "not started: --max-seconds reached")
            continue

        def session() -> None:
            client = Client(port, source=source, timeout=REQUEST_TIMEOUT)
            try:
                pop3_session(client, retr, rng, rec)
            finally:
                client.close()

        rec.timed("pop3_session", session)


# --- the server -------------------------------------------------------------------------------
def enable_pop3(env: dict[str, str]) -> None:
    """The POP3 account enabled with a known password (the operator's path)."""
    _cli(["pop3", "enable", "--password-stdin"], env, stdin=POP3_PASSWORD + "\n")


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[tuple[str, int, int]]:
    """``mailarchive serve --only web,pop3`` until it says it is ready: (web base URL, POP3 port, pid)."""
    web, pop3 = free_port(), free_port()
    env = {**env, "MAILARCHIVE_WEB_PORT": str(web), "MAILARCHIVE_POP3_PORT": str(pop3)}
    with log.open("w") as out:
        proc = subprocess.Popen([*mailarchive_command(), "serve", "--only", "web,pop3"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while "Press Ctrl+C" not in log.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"mailarchive serve did not start: {log.read_text()[-600:]}")
                time.sleep(0.3)
            yield f"http://127.0.0.1:{web}", pop3, proc.pid
        finally:
            terminate(proc)


def synthetic_archive(size: int, work: Path) -> Path:
    """``size`` synthetic messages (seed 1, cached corpus) imported into bench/work/load-data-SIZE."""
    from bench.corpus import cached_corpus
    from bench.stages import _load_directory
    from server.config import load_config

    data_dir = work / f"load-data-{size}"
    if (data_dir / "archive.sqlite3").exists():
        return data_dir
    root, info, _ = cached_corpus(work, size, 1, "mbox")
    fresh_data_dir(data_dir)
    env = bench_env(data_dir, "sqlite")
    _load_directory(load_config(env=env), 1)
    imported = run_import(info.paths(root), env, info.bytes, work / f"load-import-{size}.log")
    if imported["exit_code"] != 0:
        raise SystemExit(f"import failed: {imported['stderr_tail'][-400:]}")
    return data_dir


def archive_size(env: dict[str, str]) -> int:
    from server.config import load_config
    from server.store import open_store

    store = open_store(load_config(env=env))
    try:
        return store.count()
    finally:
        store.close()


# --- the run ---------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    data_dir = args.archive.resolve() if args.archive else synthetic_archive(args.size, args.work)
    env = {**bench_env(data_dir, "sqlite"), "MAILARCHIVE_POP3_WINDOW": str(args.window)}
    messages = archive_size(env)
    print(f"archive {data_dir}: {messages:,} messages", flush=True)
    enable_pop3(env)
    rec = Recorder()
    args.work.mkdir(parents=True, exist_ok=True)  # --archive runs import nothing, so nothing made it yet
    with serving(env, args.work / "load-serve.log") as (base, pop3_port, pid):
        # a new archive administrator per run, its token made on the console (as the product requires)
        token = api_token(env, base, name=f"load-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}")
        sampler = TreeMemorySampler(pid, interval=0.5).start()
        cpu_before, load_before = cpu_seconds(pid), os.getloadavg()
        started = time.monotonic()
        deadline = started + args.max_seconds
        threads = [threading.Thread(target=search_client, args=(n, base, token, args.requests, deadline, rec))
                   for n in range(args.searches)]
        threads += [threading.Thread(target=pop3_client, args=(n, pop3_port, args.sessions, args.retr, deadline, rec))
                    for n in range(args.pop3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        server_cpu = cpu_seconds(pid) - cpu_before
        memory = sampler.stop()
    kinds = {kind: rec.kinds[kind].summary() for kind in sorted(rec.kinds)}
    result = {
        "name": "load", "started": datetime.now(UTC).strftime("%Y%m%dT%H%M%S"),
        "git_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True, check=False).stdout.strip(),
        "archive": {"data_dir": str(data_dir), "messages": messages, "backend": "sqlite"},
        "options": {"search_clients": args.searches, "requests_per_search_client": args.requests,
                    "pop3_clients": args.pop3, "sessions_per_pop3_client": args.sessions, "retr_per_session": args.retr,
                    "pop3_window": args.window, "max_seconds": args.max_seconds, "web_threads": _web_threads()},
        "machine": {"cpus": os.cpu_count(), "load_average_before": [round(x, 1) for x in load_before],
                    "load_average_after": [round(x, 1) for x in os.getloadavg()], "nice": os.nice(0)},
        "seconds": round(seconds, 1), "server_cpu_seconds": round(server_cpu, 1),
        "server_peak_rss_mb": memory["peak_rss_mb"], "kinds": kinds,
        "errors": sum(k["errors"] for k in kinds.values()),
    }  # fmt: skip
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"load-{result['started']}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    for kind, summary in kinds.items():
        print(f"{kind:13} n={summary.get('n', 0):5}  p50 {summary.get('p50', 0):8.0f} ms  p95 "
              f"{summary.get('p95', 0):8.0f} ms  p99 {summary.get('p99', 0):8.0f} ms  errors {summary['errors']}"
              + (f" {summary['error_reasons']}" if summary["errors"] else ""))
    print(f"{seconds:.0f} s, server CPU {server_cpu:.0f} s, server peak RSS {memory['peak_rss_mb']:.0f} MB")
    print(f"results: {out}")
    return result


def _web_threads() -> int:
    from server.web.service import THREADS

    return THREADS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/load.py", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--archive", type=Path, help="an existing SQLite data dir (it is written to: use a copy)")
    where.add_argument("--size", type=int, help="import this many synthetic messages under --work first")
    parser.add_argument("--searches", type=int, default=50, help="concurrent search clients (default 50)")
    parser.add_argument("--requests", type=int, default=10, help="searches per search client (default 10)")
    parser.add_argument("--pop3", type=int, default=20, help="concurrent POP3 clients (default 20, at most 250)")
    parser.add_argument("--sessions", type=int, default=2, help="POP3 sessions per client (default 2)")
    parser.add_argument("--retr", type=int, default=20, help="messages retrieved per POP3 session (default 20)")
    parser.add_argument("--window", type=int, default=10_000, help="POP3 window (default 10000, the product default)")
    parser.add_argument("--max-seconds", type=float, default=900, help="no request starts after this (default 900)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not 0 < args.pop3 <= 250:
        parser.error("--pop3 must be between 1 and 250 (one loopback address per client)")
    result = run(args)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
