"""The stages of one benchmark size: corpus, bare parse loop, then per backend import and search."""

from __future__ import annotations

import argparse
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import latency
from bench.backends import Unavailable, archive_prefix, node_cpu_seconds, store_url, with_node_cpu
from bench.corpus import cached_corpus, describe
from bench.importrun import bench_env, fresh_data_dir, run_import
from bench.notmuch_bench import notmuch_stage
from bench.parseloop import bare_parse_loop
from bench.webapi import api_token, web_server
from bench.yardstick import ratios, sqlite_yardstick
from server.config import load_config
from server.store import open_store
from server.synthetic import build_directory


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _guarded(what: str, func: Callable[[], dict]) -> dict:
    """A stage that cannot run (component missing) or fails is recorded, not fatal to the run."""
    try:
        return func()
    except Unavailable as exc:
        _say(f"  {what}: skipped ({exc})")
        return {"skipped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken stage must not lose the other figures
        _say(f"  {what}: FAILED {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}


def archive_run(args: argparse.Namespace, skip: set[str]) -> list[dict]:
    """The search stages on an archive built earlier (``--archive``): a 1 M import takes hours
    on a shared machine, the queries against it a few minutes, and code changes to the search
    path are measured on the same data."""
    data_dir = args.archive.resolve()
    backend = "elasticsearch" if (data_dir / "engine").is_dir() or args.es_url else "sqlite"
    with store_url(backend, args, data_dir) as url:
        env = bench_env(data_dir, url)
        if backend == "elasticsearch":
            env["MAILARCHIVE_ES_INDEX_PREFIX"] = archive_prefix(url)
        config = load_config(env=env)
        store = open_store(config)
        try:
            size = store.count()
        finally:
            store.close()
        _say(f"existing {backend} archive {data_dir} ({size:,} messages): search stages only")
        return [{"size": size, "backend": backend, "reused_archive": str(data_dir),
                 "search": _search_stages(config, env, args, skip, data_dir)}]  # fmt: skip


def run_size(size: int, args: argparse.Namespace, skip: set[str]) -> list[dict]:
    _say(f"corpus of {size:,} messages (seed {args.seed}, {args.fmt})")
    root, info, generated = cached_corpus(args.work, size, args.seed, args.fmt)
    corpus = describe(info, generated)
    _say(f"  {info.bytes / 1e6:,.0f} MB, mean {corpus['mean_size']:,} B, "
         + ("reused from cache" if generated is None else f"generated in {generated:.0f} s"))
    paths = info.paths(root)
    loops = {kind: _parse_stage(kind, paths, skip, args.parse_limit) for kind in ("eml-parser", "pipeline", "stdlib")}
    notmuch = _guarded("notmuch new", lambda: notmuch_stage(paths, args.work, size, args.seed, skip))
    if "msg_per_s" in notmuch:
        _say(f"  notmuch new ({notmuch['files']:,} files, same mail as a Maildir): {notmuch['msg_per_s']:,.0f} msg/s, "
             f"{notmuch['cpu_ms_per_msg']:.2f} CPU ms/msg")
    runs = []
    for backend in args.backends:
        run = {"size": size, "backend": backend, "corpus": corpus, "parse_loop": loops["eml-parser"],
               "pipeline_parse_loop": loops["pipeline"], "stdlib_parse_loop": loops["stdlib"], "notmuch": notmuch}
        run.update(_backend_stages(backend, size, root, info, args, skip))
        imp = run.get("import", {})
        for key, loop in (("import_vs_parse", loops["eml-parser"]), ("import_vs_pipeline_parse", loops["pipeline"]),
                          ("import_vs_stdlib_parse", loops["stdlib"]), ("import_vs_notmuch", notmuch)):
            run.update(yardstick_ratios(key, imp, loop))
        _report_yardsticks(backend, run)
        runs.append(run)
    return runs


def yardstick_ratios(key: str, imp: dict, other: dict) -> dict:
    """The import against a yardstick of the same run: by wall clock and by CPU per message
    (the CPU ratio holds on a loaded machine, the wall ratio only when both ran alike)."""
    out = {}
    if imp.get("msg_per_s") and other.get("msg_per_s"):
        out[key] = round(imp["msg_per_s"] / other["msg_per_s"], 3)
    if imp.get("cpu_ms_per_msg") and other.get("cpu_ms_per_msg"):
        out[f"{key}_cpu"] = round(other["cpu_ms_per_msg"] / imp["cpu_ms_per_msg"], 3)
    return out


def _report_yardsticks(backend: str, run: dict) -> None:
    parts = [f"{name} {run[key]:.2f}x wall / {run[key + '_cpu']:.2f}x CPU" for name, key in
             (("stdlib loop", "import_vs_stdlib_parse"), ("notmuch", "import_vs_notmuch")) if key + "_cpu" in run]
    if parts:
        _say(f"  {backend}: import vs " + "; ".join(parts))


def _parse_stage(kind: str, paths: list[Path], skip: set[str], limit: int) -> dict:
    if "parse" in skip:
        return {"skipped": "--skip parse"}
    loop = _guarded(f"{kind} parse loop", lambda: bare_parse_loop(paths, kind, limit=limit))
    if "msg_per_s" in loop:
        _say(f"  bare {kind} parse loop ({loop['messages']:,} messages): {loop['msg_per_s']:,.0f} msg/s, "
             f"{loop['mb_per_s']:.1f} MB/s on {loop['workers']} cores, {loop['cpu_ms_per_msg']:.2f} CPU ms/msg")
    return loop


def _backend_stages(backend: str, size: int, root: Path, info, args: argparse.Namespace, skip: set[str]) -> dict:
    out: dict = {}
    data_dir = fresh_data_dir(args.work / f"data-{backend}-{size}")
    try:
        with store_url(backend, args, data_dir) as url:
            # a fresh index prefix per run: an Elasticsearch outlives the data dir
            env = {**bench_env(data_dir, url), "MAILARCHIVE_ES_INDEX_PREFIX": f"bench{size}t{int(time.time())}"}
            config = load_config(env=env)
            _load_directory(config, args.seed)
            _say(f"  {backend}: mailarchive import of {size:,} messages")
            out["batches"] = _batch_sizes()
            node_before = node_cpu_seconds(url) if backend == "elasticsearch" else None
            out["import"] = run_import(info.paths(root), env, info.bytes, data_dir.parent / f"import-{backend}-{size}.log")
            if node_before is not None and (node_after := node_cpu_seconds(url)) is not None:
                out["import"] = with_node_cpu(out["import"], node_after - node_before)
            imp = out["import"]
            _say(f"  {backend}: import exit {imp['exit_code']}: {imp['msg_per_s']:,.0f} msg/s, "
                 f"{imp['mb_per_s']:.1f} MB/s, peak RSS {imp['peak_rss_mb']:.0f} MB (tree), "
                 f"{imp.get('cpu_ms_per_msg', 0):.2f} CPU ms/msg"
                 + (f" + node {imp['node_cpu_ms_per_msg']:.2f}" if "node_cpu_ms_per_msg" in imp else ""))
            if imp["exit_code"] != 0:
                _say(f"  {backend}: import failed: {imp['stderr_tail'][-400:]}")
            else:
                out["store_size"] = _guarded("store size", lambda: _store_size(backend, config, data_dir))
                out["disk"] = disk_ratio(imp, out["store_size"]) if backend == "sqlite" else {}
                if out["disk"]:
                    _say(f"  {backend}: wrote {out['disk']['written_mb']:,.0f} MB for a {out['disk']['store_mb']:,.0f} MB "
                         f"store: {out['disk']['written_vs_store']:.1f}x")
                out["search"] = _search_stages(config, env, args, skip, data_dir)
                if "pop3" not in skip:
                    out["pop3"] = _guarded("POP3", lambda: _pop3_stage(env, size, args, data_dir))
            profile_n = args.profile if args.profile is not None else (0 if args.quick else 3000)
            if profile_n and "profile" not in skip:
                out["profile"] = _guarded("profile", lambda: _profile(info.paths(root), env, profile_n, args.seed, data_dir))
    except Unavailable as exc:
        _say(f"  {backend}: skipped ({exc})")
        out["skipped"] = str(exc)
    finally:
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return out


def disk_ratio(imp: dict, store_size: dict) -> dict:
    """Bytes the import wrote (``/proc/PID/io`` of its tree) against the store it left: the
    write amplification (issue 18 item 5: at most 3x)."""
    if not imp.get("write_bytes") or not store_size.get("bytes"):
        return {}
    return {"written_mb": round(imp["write_bytes"] / 1e6, 1), "store_mb": round(store_size["bytes"] / 1e6, 1),
            "written_vs_store": round(imp["write_bytes"] / store_size["bytes"], 2)}


def _store_size(backend: str, config, data_dir: Path) -> dict:
    """Bytes on disk after the import: the SQLite files, or the primaries of the prefix's indices
    (for sizing a cluster per million messages; docs/elasticsearch.md)."""
    if backend == "sqlite":
        files = [p for p in data_dir.rglob("*") if p.is_file()]
        return {"bytes": sum(p.stat().st_size for p in files), "files": len(files), "note": "everything in the data dir"}
    from elasticsearch import Elasticsearch

    with Elasticsearch(config.store.url, request_timeout=1800) as es:
        es.indices.forcemerge(index=f"{config.store.index_prefix}-*", max_num_segments=1, wait_for_completion=True)
        stats = es.indices.stats(index=f"{config.store.index_prefix}-*", metric="store,docs")["indices"]
    per_index = {name: {"bytes": v["primaries"]["store"]["size_in_bytes"], "docs": v["primaries"]["docs"]["count"]}
                 for name, v in stats.items()}  # fmt: skip
    return {"bytes": sum(v["bytes"] for v in per_index.values()), "indices": per_index,
            "note": "primaries after a force merge to one segment"}  # fmt: skip


def _batch_sizes() -> dict:
    """What the import sends per store call and, on Elasticsearch, per bulk request."""
    from server.indexing.pipeline import BATCH_BYTES, BATCH_SIZE
    from server.store.elasticsearch.bulk import MAX_ACTIONS, MAX_BYTES

    return {"put_messages": BATCH_SIZE, "put_messages_bytes": BATCH_BYTES,
            "es_bulk_actions": MAX_ACTIONS, "es_bulk_bytes": MAX_BYTES}  # fmt: skip


def _profile(paths: list[Path], env: dict[str, str], count: int, seed: int, data_dir: Path) -> dict:
    """Stage costs and a cProfile of the pipeline, each in a fresh store of this backend."""
    from bench.costs import profile_ingest, stage_costs

    _say(f"  profiling the pipeline on {count:,} messages (single process, CPU time)")
    result = {}
    for name, func in (("stage_cpu_ms_per_msg", stage_costs), ("cprofile", profile_ingest)):
        scratch = fresh_data_dir(data_dir.parent / f"{data_dir.name}-profile")
        try:
            scratch_env = {**env, "MAILARCHIVE_DATA_DIR": str(scratch),
                           "MAILARCHIVE_ES_INDEX_PREFIX": f"profile{name[:5]}{int(time.time())}"}
            result[name] = func(paths, load_config(env=scratch_env), count, seed)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    _say(f"  stage costs (CPU ms/msg): {result['stage_cpu_ms_per_msg']}")
    return result


def _load_directory(config, seed: int) -> None:
    """The company directory, so the import can resolve mailboxes and departments."""
    store = open_store(config)
    try:
        store.upsert_accounts(build_directory(seed).as_accounts())
    finally:
        store.close()


def _search_stages(config, env: dict[str, str], args: argparse.Namespace, skip: set[str], data_dir: Path) -> dict:
    rounds = 1 if args.quick else latency.ROUNDS
    search: dict = {}
    if "search" not in skip or "api" not in skip:
        search["yardstick_before"] = _guarded("yardstick", lambda: sqlite_yardstick(data_dir))
    if "search" not in skip:
        search["store"] = _guarded("search (store)", lambda: latency.store_latency(config, args.seed, rounds))
        _report_latency("store API", search["store"])
        search["highlight"] = _guarded("search + highlight", lambda: latency.highlight_latency(config, args.seed, rounds))
        _report_highlight(search["highlight"])
    if "api" not in skip and "search" not in skip:
        search["api"] = _guarded("search (HTTP API)", lambda: _api_search(env, args.seed, rounds, data_dir))
        _report_latency("HTTP API", search["api"])
    if "yardstick_before" in search:
        search["yardstick_after"] = _guarded("yardstick", lambda: sqlite_yardstick(data_dir))
        search["vs_yardstick"] = ratios(search, search["yardstick_before"])
        _report_yardstick(search)
    if "cli" not in skip:
        search["cli"] = _guarded("CLI search", lambda: _cli_search(env, args.quick))
        _report_cli(search["cli"])
    if "scan" not in skip:
        search["scan"] = _guarded("export scan", lambda: latency.scan_rate(config))
        scan = search["scan"]
        if "msg_per_s" in scan:
            _say(f"  export scan (Store.scan, batches of {scan['batch_size']}): {scan['messages']:,} messages "
                 f"in {scan['seconds']:.1f} s, {scan['msg_per_s']:,.0f} msg/s")
    return search


def _report_yardstick(search: dict) -> None:
    before, after = search["yardstick_before"], search["yardstick_after"]
    if "fts_match_count" in before and "fts_match_count" in after:
        b, a = before["fts_match_count"], after["fts_match_count"]
        _say(f"  yardstick: FTS5 count of {before['word']!r} ({b['rows']:,} rows) {b['wall_ms_median']:.1f} ms before the "
             f"searches, {a['wall_ms_median']:.1f} ms after; p95 in its units: {search['vs_yardstick']}")


def _cli_search(env: dict[str, str], quick: bool) -> dict:
    from bench.cli_bench import cli_latency

    return cli_latency(env, runs=3 if quick else 15)


def _report_cli(result: dict) -> None:
    if "search" in result:
        wall, cpu = result["search"]["wall"], result["search"]["cpu"]
        _say(f"  mailarchive search (CLI, n={wall['n']}): median {wall['median']:.0f} ms wall, {cpu['median']:.0f} ms CPU; "
             f"python -c pass {result['python']['wall']['median']:.0f} ms wall (x{result['wall_ratio']}, CPU "
             f"x{result['cpu_ratio']}); imports {result['importtime']['total_ms']:.0f} ms; must-not-load modules "
             f"loaded: {result['importtime']['forbidden_loaded'] or 'none'}")


def _api_search(env: dict[str, str], seed: int, rounds: int, data_dir: Path) -> dict:
    with web_server(env, data_dir.parent / "web.log") as (base, pid):
        token = api_token(env, base, name=f"bench-{int(time.time())}")  # a reused archive has its "bench" already
        return latency.api_latency(base, token, seed, rounds, server_pid=pid)


def _pop3_stage(env: dict[str, str], size: int, args: argparse.Namespace, data_dir: Path) -> dict:
    from bench.pop3_bench import pop3_bench

    count = min(size, args.pop3_messages)
    _say(f"  POP3: RETR of {count:,} messages (one window) from a {size:,}-message archive")
    result = pop3_bench(env, count, data_dir.parent / f"pop3-{size}.log")
    _say(f"  POP3: {result['retr_mb_per_s']:.1f} MB/s RETR (bare read loop {result['yardstick']['mb_per_s']:.1f} MB/s, "
         f"ratio {result['retr_vs_yardstick']:.2f}), window opened in {result['login_and_window_s']:.2f} s, "
         f"daemon peak RSS {result['server_peak_rss_mb']:.0f} MB (anon {result['server_peak_anon_rss_mb']:.0f} MB)")
    return result


def _report_highlight(result: dict) -> None:
    if "p95_ratio" in result:
        plain, both = result["search"], result["search_and_highlight"]
        _say(f"  search p95 {plain['p95']:.1f} ms, with highlighting {both['p95']:.1f} ms (x{result['p95_ratio']}); "
             f"highlighting alone p95 {result['highlight_ms']['p95']:.1f} ms; CPU time: search p95 "
             f"{result['cpu']['search']['p95']:.1f} ms, with highlighting {result['cpu']['search_and_highlight']['p95']:.1f} ms")


def _report_latency(surface: str, result: dict) -> None:
    overall = result.get("overall")
    if overall and overall.get("n"):
        rounds = " / ".join(f"{r['p95']:.0f}" for r in result.get("wall_by_round", []) if r.get("n"))
        _say(f"  search via {surface}: p50 {overall['p50']:.0f} ms, p95 {overall['p95']:.0f} ms, "
             f"p99 {overall['p99']:.0f} ms over {overall['n']} queries" + (f" (p95 by round {rounds})" if rounds else ""))


def smtp_stage(args: argparse.Namespace, skip: set[str]) -> dict:
    if "smtp" in skip:
        return {"skipped": "--skip smtp"}

    def run() -> dict:
        try:
            from bench.smtp_bench import run_smtp_bench
        except ImportError:
            raise Unavailable("bench/smtp_bench.py does not exist yet") from None
        _say(f"SMTP journal bench: {args.smtp_messages:,} messages over 10 connections")
        result = run_smtp_bench(args.smtp_messages, 10, fresh_data_dir(args.work / "smtp"))
        _say(f"  SMTP: {result.get('messages_per_s')} msg/s")
        return result

    return _guarded("SMTP bench", run)


def export_stage(args: argparse.Namespace, skip: set[str]) -> dict:
    """Export All of ``--export-size`` messages by a real worker, against a bare read-and-zip loop."""
    if "export" in skip:
        return {"skipped": "--skip export"}
    size = args.export_size or (300 if args.quick else 100_000)

    def run() -> dict:
        from bench.export_bench import run_export_bench

        _say(f"Export All bench: {size:,} messages")
        return run_export_bench(size, args.work, args.seed)

    return _guarded("Export All bench", run)
