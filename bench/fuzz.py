"""The full fuzz run (issue 17 item 1): 10,000 malformed messages through ``mailarchive import`` and
through a real SMTP session, every one accounted for (tests/fuzz/harness.py); figures to
bench/results/fuzz-TIMESTAMP.json and docs/reliability.md.

    python bench/fuzz.py [--count 10000] [--seed 17]

The normal suite runs the same code on a 120-message sample (tests/fuzz/test_fuzz_ingest.py).
Exit code 1 if any message was lost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.archiving import set_enabled  # noqa: E402
from server.config import load_config  # noqa: E402
from server.store import open_store  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402
from tests.fuzz.harness import FuzzReport, account, import_run, parse_times, smtp_payload, smtp_send  # noqa: E402
from tests.fuzz.messages import corpus_messages, fuzz_messages  # noqa: E402
from tests.support.smtp import receiver_settings, running_service, wait_for  # noqa: E402


def smtp_run(work: Path, messages: list) -> FuzzReport:
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=work / "smtp-data")
    store = open_store(config)
    set_enabled(store, True, "bench fuzz")
    store.close()
    report = FuzzReport("smtp")
    started = time.monotonic()
    with running_service(config, receiver_settings(config, max_message_size=8 * 1024 * 1024)) as service:
        refused = smtp_send(service.settings.port, messages)
        wait_for(lambda: not any((config.spool_dir / "new").iterdir()), timeout=7200, what="the spool to drain")
    report.seconds = round(time.monotonic() - started, 1)
    held = list((config.spool_dir / "hold").iterdir()) if (config.spool_dir / "hold").is_dir() else []
    report.lost.extend(f"held by the drainer: {p.name}" for p in held)
    account(config, [(i, k, smtp_payload(raw)) for i, k, raw in messages], refused, report)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    work = ROOT / "bench" / "work" / "fuzz"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    messages = list(fuzz_messages(args.count, args.seed, corpus_messages(CORPUS)))
    results = {"count": args.count, "seed": args.seed, "bytes": sum(len(m[2]) for m in messages)}
    imported = import_run(load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=work / "import-data"), messages,
                          work, timeout=7200)
    parse_times(messages, imported, keep=10)
    results["import"] = imported.to_dict()
    print(json.dumps(results["import"])[:2000], flush=True)
    results["smtp"] = smtp_run(work, messages).to_dict()
    print(json.dumps(results["smtp"])[:2000], flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = ROOT / "bench" / "results" / f"fuzz-{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if results["import"]["lost_count"] or results["smtp"]["lost_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
