"""``server.logs``: module loggers that load ``logging`` only when a record could be shown, with
the same outcome as ``logging.getLogger`` (each case in a fresh interpreter, as a command runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)


def test_info_without_logging_loaded_is_dropped_as_logging_would_drop_it() -> None:
    done = _run("import sys\nfrom server.logs import logger\nlogger('x').info('hidden %s', 1)\n"
                "print('logging' in sys.modules)")  # fmt: skip
    assert done.stdout == "False\n" and done.stderr == ""
    plain = _run("import logging\nlogging.getLogger('x').info('hidden %s', 1)")
    assert plain.stderr == ""


def test_warnings_reach_the_last_resort_handler_like_a_plain_logger() -> None:
    lazy = _run("from server.logs import logger\nlogger('x').warning('disk %s', 'full')")
    plain = _run("import logging\nlogging.getLogger('x').warning('disk %s', 'full')")
    assert lazy.stderr == plain.stderr == "disk full\n"


def test_a_configured_logging_gets_info_records_with_the_logger_name() -> None:
    code = ("import logging, sys\nlogging.basicConfig(stream=sys.stdout, level=logging.INFO, format='%(name)s %(message)s')\n"
            "from server.logs import logger\nlogger('mailarchive.audit.anchor').info('seq=%d', 7)")  # fmt: skip
    assert _run(code).stdout == "mailarchive.audit.anchor seq=7\n"


def test_the_rest_of_the_logger_is_the_real_one() -> None:
    code = ("import logging\nfrom server.logs import logger\nlazy = logger('mailarchive.x')\nlazy.setLevel(logging.ERROR)\n"
            "print(lazy.level == logging.getLogger('mailarchive.x').level == logging.ERROR)\nlazy.critical('down')")  # fmt: skip
    done = _run(code)
    assert done.stdout == "True\n" and done.stderr == "down\n"
