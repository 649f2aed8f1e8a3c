"""Where the import's CPU goes: the pipeline in one process under cProfile, on CPU time.

The real import spreads parsing over a process pool, which cProfile cannot follow, and wall-clock
profiles on a shared machine mostly measure the neighbours. So this runs the same ``Ingestor``
over the first N corpus messages in a single process against a fresh store of the chosen backend
and profiles with ``time.process_time``; the stage totals are CPU milliseconds per message.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from itertools import islice
from pathlib import Path

from server.config import Config
from server.store import open_store
from server.synthetic import build_directory, iter_raw

# (label, file suffix, function name): cumulative CPU of these calls = the stage's cost.
STAGES = [
    ("parse (whole)", "indexing/parse.py", "parse"),
    ("  mime tree (stdlib feedparser, eml-parser policy)", "email/parser.py", "parsebytes"),
    ("  headers and body decoding", "indexing/parse.py", "_fill_body"),
    ("rules + enrich + put (store_batch)", "indexing/pipeline.py", "store_batch"),
    ("  enrich (mailboxes, departments)", "indexing/enrich.py", "message"),
    ("  put_messages", "sqlite/messages.py", "put_messages"),
    ("    tokenize for the index", "query/tokenize.py", "index_text"),
    ("    zstd compress", "common/codec.py", "compress"),
    ("    SQL statements (FTS5, tables, commit)", "~", "<method 'execute' of 'sqlite3.Connection' objects>"),
    ("    SQL executemany (filter keys)", "~", "<method 'executemany' of 'sqlite3.Connection' objects>"),
    ("mbox reading", "synthetic/corpus.py", "iter_raw"),
]


def _messages(paths: list[Path], count: int):
    return islice((raw for path in paths for raw in iter_raw(path)), count)


def _fresh_ingestor(config: Config, seed: int):
    from server.indexing.pipeline import Ingestor

    store = open_store(config)
    store.upsert_accounts(build_directory(seed).as_accounts())
    return store, Ingestor(store, config)


def stage_costs(paths: list[Path], config: Config, count: int, seed: int) -> dict:
    """CPU ms per message of each stage, timed without a profiler (accurate, coarse)."""
    from server.indexing.parse import parse
    from server.indexing.pipeline import BATCH_SIZE, RawItem

    clock = time.process_time
    t0 = clock()
    raws = list(_messages(paths, count))
    t1 = clock()
    parsed = [parse(raw) for raw in raws]
    t2 = clock()
    store, ingestor = _fresh_ingestor(config, seed)
    put_cpu = [0.0]
    put = store.put_messages

    def timed_put(items, **kwargs):  # noqa: ANN001, ANN003, ANN202 - a transparent wrapper
        began = clock()
        try:
            return put(items, **kwargs)
        finally:
            put_cpu[0] += clock() - began

    store.put_messages = timed_put  # type: ignore[method-assign]
    try:
        t3 = clock()
        pairs = [(RawItem(raw), mail) for raw, mail in zip(raws, parsed, strict=True)]
        for i in range(0, len(pairs), BATCH_SIZE):
            ingestor.store_batch(pairs[i : i + BATCH_SIZE])
        t4 = clock()
    finally:
        store.close()
    n = max(len(raws), 1)
    ms = lambda seconds: round(seconds * 1000 / n, 3)  # noqa: E731
    return {
        "messages": len(raws),
        "read_mbox": ms(t1 - t0),
        "parse": ms(t2 - t1),
        "rules_enrich": ms(t4 - t3 - put_cpu[0]),
        "put_messages": ms(put_cpu[0]),
        "total": ms(t2 - t0 + t4 - t3),
    }


def profile_ingest(paths: list[Path], config: Config, count: int, seed: int, top: int = 25) -> dict:
    from server.indexing.pipeline import RawItem

    store, ingestor = _fresh_ingestor(config, seed)
    try:
        profiler = cProfile.Profile(time.process_time)
        started = time.process_time()
        profiler.enable()
        done = sum(1 for _ in ingestor.ingest_many(RawItem(raw) for raw in _messages(paths, count)))
        profiler.disable()
        cpu = time.process_time() - started
    finally:
        store.close()
    stats = pstats.Stats(profiler)
    per_msg = lambda seconds: round(seconds * 1000 / max(done, 1), 3)  # noqa: E731
    entries = stats.stats  # type: ignore[attr-defined]
    stages = {}
    for label, suffix, name in STAGES:
        cum = sum(v[3] for (file, _, func), v in entries.items() if func == name and file.endswith(suffix))
        stages[label] = per_msg(cum)
    ranked = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return {
        "messages": done,
        "cpu_ms_per_msg_profiled": per_msg(cpu),
        "note": "single process, cProfile on CPU time: inflates call-heavy Python code (the stdlib feedparser) "
                "several times; use stage_costs for the true split, this for what is inside each stage",
        "stages_cpu_ms_per_msg": stages,
        "top_self_cpu": [
            {"function": f"{Path(file).name}:{line}:{func}", "self_ms_per_msg": per_msg(v[2]),
             "cum_ms_per_msg": per_msg(v[3]), "calls": v[1]}
            for (file, line, func), v in ranked
        ],
    }
