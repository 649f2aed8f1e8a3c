"""``mailarchive serve``: start every service on the configured addresses and wait for a signal."""

from __future__ import annotations

import argparse
import signal
import threading

from server.cli.common import config_from_env
from server.daemons import SERVICES, start_all, stop_all


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the archive server (web console, SMTP journal receiver, ...)")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(n for n, _ in SERVICES))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    services = start_all(config, only)
    print(f"mailarchive: data in {config.data_dir.resolve()}, store: {config.store.url}", flush=True)
    for service in services:
        print(f"  {service.name:6} {service.describe()}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop_all(services)
    return 0
