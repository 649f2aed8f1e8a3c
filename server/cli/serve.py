"""``mailarchive serve``: start every daemon on the configured addresses and wait for a signal.

Order matters for a first start that goes wrong: every listener is bound before anything is
created (no data directory, no users, no generated passwords), so a port already in use is one line
naming the address and the variable to change, and the next attempt starts from a clean slate.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from urllib.parse import urlsplit

from server.cli import UsageError
from server.cli.common import config_from_env
from server.config import Config, with_overrides
from server.daemons import ListenError, StartError, bind_all, names, start_all, stop_all
from server.private_files import private_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", metavar="NAMES", help="comma-separated subset of: " + ", ".join(names()))
    parser.set_defaults(func=run, needs_archive=False)  # it creates the archive


def store_line(config: Config) -> str:
    """Where the archive is, without credentials a URL might carry."""
    if config.store.uses_elasticsearch:
        url = urlsplit(config.store.url)
        host = url.hostname or ""
        host = f"[{host}]" if ":" in host else host
        where = f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")
        return f"Elasticsearch at {where} (index prefix {config.store.index_prefix})"
    return f"SQLite {config.sqlite_path.resolve()}"


def run(args: argparse.Namespace) -> int:
    config = config_from_env()
    only = {s.strip() for s in args.only.split(",") if s.strip()} if args.only else set(config.ops.roles)
    unknown = sorted(only - set(names()))
    if unknown:
        raise UsageError(f"--only: unknown daemon {', '.join(unknown)} (choose from {', '.join(names())})")
    config = with_overrides(config, roles=",".join(n for n in names() if n in only))  # /readyz checks what runs here
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        daemons = bind_all(config, only)
    except ListenError as exc:
        print(f"mailarchive: error: {exc}", file=sys.stderr)
        return 1
    try:
        private_dir(config.data_dir)
    except OSError as exc:
        stop_all(daemons)
        print(f"mailarchive: error: cannot create the data directory {config.data_dir}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        start_all(daemons)  # stops them all itself when one fails
    except StartError as exc:
        print(f"mailarchive: error: {exc}", file=sys.stderr)
        return 1
    # The start-up heap (~70 k objects: apps, store clients, tables) lives as long as the process:
    # collected once and frozen, the cyclic collector's full passes no longer walk it. They landed
    # on a request every hundred or so and cost it ~20-25 ms of CPU (issue 18 item 3).
    gc.collect()
    gc.freeze()
    print(f"mailarchive: data directory {config.data_dir.resolve()}", flush=True)
    print(f"  store  {store_line(config)}", flush=True)
    for daemon in daemons:
        print(f"  {daemon.name:6} {daemon.describe()}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    done.wait()
    stop_all(daemons)
    return 0
