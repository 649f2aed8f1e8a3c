"""A parser process's work (parse + ``prepare_batch``) under callgrind: instruction counts a message.

    python bench/parse_callgrind.py --trees /path/to/main-checkout,. --messages 500 MBOX

On a shared machine wall clock and CPU time swing with the load; instructions do not. Each tree's
run is this script again under ``valgrind --tool=callgrind --toggle-collect=starmap_next``, with that
tree first on ``sys.path``: only the work itself is counted (it runs inside ``itertools.starmap``,
which nothing else of the run uses), not start-up, reading the mbox or loading the directory. The
work is what an import's parser process does with the first ``--messages`` messages of the file, in
chunks of ``WORKER_CHUNK`` with one clock (the rows are the same for every tree; ``--dump`` pickles them
so two trees' rows can be compared byte for byte).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

_ARRIVAL = datetime(2026, 12, 3, tzinfo=UTC)


def work(path: Path, count: int, dump: Path | None) -> None:
    """The measured run (in the child, the tree under test first on ``sys.path``)."""
    from server.config import load_config
    from server.indexing import pipeline
    from server.indexing.mailreaders import read_mbox
    from server.indexing.parse import parse
    from server.store import open_store
    from server.synthetic import build_directory
    from server.synthetic.words import INTERNAL_DOMAINS

    items = [pipeline.RawItem(raw, received_at=when) for raw, when in itertools.islice(read_mbox(path), count)]
    env = {"MAILARCHIVE_DATA_DIR": tempfile.mkdtemp(prefix="parse-cg-"), "MAILARCHIVE_STORE": "sqlite",
           "MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_INTERNAL_DOMAINS": ",".join(INTERNAL_DOMAINS)}  # fmt: skip
    config = load_config(env=env)
    store = open_store(config)
    store.upsert_accounts(build_directory(1).as_accounts())
    context = pipeline.Ingestor(store, config).batch_context(items)._replace(arrival=_ARRIVAL)
    pipeline.prepare_batch(store, context, [(it, parse(it.raw)) for it in items[:5]])  # first-use compiles

    def chunks() -> list:
        step = pipeline.WORKER_CHUNK
        out = []
        for i in range(0, len(items), step):
            out.extend(pipeline.prepare_batch(store, context, [(it, parse(it.raw)) for it in items[i : i + step]]))
        return out

    rows = next(itertools.starmap(chunks, [()]))
    if dump is not None:
        dump.write_bytes(pickle.dumps([tuple(r) for r in rows]))


def measure(tree: Path, path: Path, count: int, out_dir: Path) -> dict:
    out = out_dir / f"callgrind.{tree.resolve().name}.out"
    dump = out_dir / f"rows.{tree.resolve().name}.pickle"
    subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=starmap_next", f"--callgrind-out-file={out}",
                    sys.executable, __file__, "--child", str(path), "--messages", str(count), "--dump", str(dump)],
                   cwd=tree, env={**os.environ, "PYTHONPATH": str(tree.resolve())}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    totals = next(line for line in out.read_text().splitlines() if line.startswith(("summary:", "totals:")))
    instructions = int(totals.split()[1])
    return {"tree": str(tree), "messages": count, "instructions": instructions,
            "m_instructions_per_msg": round(instructions / count / 1e6, 3), "rows": str(dump)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mbox", type=Path)
    parser.add_argument("--trees", default=".", help="comma-separated checkouts")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="parse-callgrind")
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, os.getcwd())
        work(args.mbox.resolve(), args.messages, args.dump)
        return 0
    sys.path[:1] = [str(Path(__file__).resolve().parents[1])]
    from bench.options import RESULTS

    out_dir = Path(tempfile.mkdtemp(prefix="parse-cg-"))
    runs = [measure(Path(t), args.mbox.resolve(), args.messages, out_dir) for t in args.trees.split(",") if t]
    rows = {Path(r.pop("rows")).read_bytes() for r in runs}  # the pickles stay in the temporary directory
    result = {"name": args.name, "mbox": args.mbox.name, "runs": runs, "rows_identical": len(rows) == 1}
    path = RESULTS / f"{args.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
