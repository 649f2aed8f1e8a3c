"""``mailarchive worker``: run the RQ worker that makes Export All zips (and runs maintenance).

Uses the Redis at ``MAILARCHIVE_REDIS_URL``, else the embedded one under the data dir (started if
no process runs it yet, stopped when its last user exits). ``mailarchive serve`` starts one of
these itself; run more (on this or other hosts sharing the store and Redis) for more exports at once.
"""

from __future__ import annotations

import argparse
import logging
import sys

import redis

from server.cli.common import config_from_env
from server.jobs.broker import QUEUE_NAME, broker_for, close_all
from server.jobs.embedded_redis import EmbeddedRedisError
from server.private_files import private_dir


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--burst", action="store_true", help="run the queued jobs, then exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server.jobs.worker import ArchiveWorker

    config = config_from_env()
    private_dir(config.data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    broker = broker_for(config)
    try:
        worker = ArchiveWorker(config, broker)
        print(f"mailarchive worker: queue '{QUEUE_NAME}' on {broker.where}; data in {config.data_dir.resolve()}",
              flush=True)
        worker.work(burst=args.burst, logging_level="INFO")
    except (redis.ConnectionError, EmbeddedRedisError) as exc:
        print(f"mailarchive: error: the job queue is not reachable ({broker.where}): {exc}", file=sys.stderr)
        return 1
    finally:
        close_all()
    return 0
