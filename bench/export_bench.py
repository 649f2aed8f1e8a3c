"""Export All benchmark: a real ``mailarchive worker --burst`` making the zip of N messages, beside a
bare read-and-zip loop over the same blobs in the same run (the yardstick for the ratio).

The archive is the cached synthetic corpus (a year of 2025), imported once by ``mailarchive import``
into a SQLite data dir under bench/work and reused; the export covers the whole year (submitted
with ``limits=False``: the 30-day limit guards the console, the job handles any size). Figures:

* ``export``: raw message MB/s from the job's start to its finish (task timestamps) and for the
  worker process as a whole, MB per CPU-second of the job itself (its threads, recorded in the
  task) and of the whole worker (start-up included), peak RSS of the worker's process tree (main process + work horse),
  sampled from /proc every 0.25 s, and its timeline (is memory flat?).
* ``bare_loop``: scan the store (``scan_heads``, as the job does), read the blobs in the same batches the job reads them, write each
  to a stdlib ``zipfile`` (stored), in this process: no verification, manifest, progress or task
  bookkeeping; wall and CPU seconds.
* ``zip_libraries``: the project's streaming writer against zipstream-ng over the first
  ``ZIP_COMPARE`` blobs: MB/s and peak traced Python memory, stored and deflated, the reason the
  project keeps its own writer (its central directory is spooled to disk, zipstream-ng keeps one
  record per entry in memory).
"""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.corpus import cached_corpus
from bench.importrun import bench_env, fresh_data_dir, run_import
from bench.rss import TreeMemorySampler
from server.config import load_config
from server.export.batched import BatchedReads
from server.model import Message, MessageHead, parse_time
from server.query.criteria import parse_criteria
from server.services.actor import Actor
from server.services.context import Services
from server.synthetic.directory import build_directory

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"from": "2024-12-31", "to": "2026-01-01"}  # the corpus' year, all of it (submitted without the day limits)
ZIP_COMPARE = 20_000
MB = 1e6


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def archive_for_export(work: Path, size: int, seed: int, fmt: str = "mbox") -> tuple[Path, dict[str, str]]:
    """A data dir holding the cached ``size`` corpus (a year of 2025), imported once by a real
    ``mailarchive import`` and reused by later runs (the import is not what this stage measures)."""
    data_dir = work / f"export-archive-{size}-s{seed}-{fmt}"
    env = bench_env(data_dir, "sqlite")
    marker = data_dir / "bench-export-ready.json"
    if marker.is_file():
        return data_dir, env
    root, info, _ = cached_corpus(work, size, seed, fmt)
    fresh_data_dir(data_dir)
    config = load_config(env=env)
    with Services.open(config) as svc:
        svc.store.upsert_accounts(build_directory(seed).as_accounts())
    _say(f"export bench: importing the {size:,}-message corpus into {data_dir} (once)")
    imported = run_import(info.paths(root), env, info.bytes, work / f"export-import-{size}.log")
    if imported["exit_code"] != 0:
        raise RuntimeError(f"export bench import failed: {imported.get('stderr_tail', '')[-600:]}")
    with Services.open(config) as svc:
        archived = svc.store.count()
    marker.write_text(json.dumps({"raw": size, "archived": archived, "import_seconds": imported.get("seconds"),
                                  "import_msg_per_s": imported.get("msg_per_s")}))  # fmt: skip
    return data_dir, env


def run_export_bench(size: int, work: Path, seed: int = 1) -> dict:
    data_dir, env = archive_for_export(work, size, seed)
    config = load_config(env=env)
    result: dict = {"size": size, "params": PARAMS, "archive": json.loads((data_dir / "bench-export-ready.json").read_text())}
    with Services.open(config) as svc:
        criteria = parse_criteria(PARAMS)
        result["bare_loop"] = _bare_loop(svc, criteria, work / "bare.zip")
        _say(f"  bare read-and-zip loop: {result['bare_loop']['mb_per_s']:.1f} MB/s over "
             f"{result['bare_loop']['messages']:,} messages")
        result["export"] = _export(svc, env, data_dir)
        _say(f"  Export All: {result['export']['mb_per_s']:.1f} MB/s (job), peak RSS {result['export']['peak_rss_mb']:.0f} MB")
        result["zip_libraries"] = _zip_libraries(svc, criteria)
    from server.jobs.broker import close_all

    close_all()
    bare = result["bare_loop"]["mb_per_s"]
    result["export_vs_bare"] = round(result["export"]["mb_per_s"] / bare, 3) if bare else None
    job_cpu, bare_cpu = result["export"]["mb_per_job_cpu_s"], result["bare_loop"]["mb_per_cpu_s"]
    result["export_vs_bare_cpu"] = round(job_cpu / bare_cpu, 3) if job_cpu and bare_cpu else None  # MB per CPU-second
    result["targets"] = {"mb_per_s": 50, "peak_rss_mb": 200}
    return result


def _bare_loop(svc: Services, criteria, out: Path) -> dict:  # noqa: ANN001
    """The yardstick: the store's scan and batched blob reads, each blob into a stdlib zip (stored);
    no SHA-256 check, manifest, progress or task bookkeeping."""
    started, count, size = time.perf_counter(), 0, 0
    cpu = time.process_time()
    def read(batch: list[MessageHead]) -> list[bytes]:
        found = svc.store.get_raws([m.sha256 for m in batch])
        return [found.get(m.sha256, b"") for m in batch]

    reads = BatchedReads(svc.store.scan_heads(criteria), read)  # the store's cheapest scan, as the job's
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for message in reads:
            raw = reads.raw_of(message)
            archive.writestr(f"{count:06d}.eml", raw)
            count, size = count + 1, size + len(raw)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    out.unlink()
    return {"messages": count, "bytes": size, "seconds": round(elapsed, 2), "mb_per_s": round(size / MB / elapsed, 1),
            "cpu_seconds": round(cpu, 2), "mb_per_cpu_s": round(size / MB / cpu, 1)}  # fmt: skip


def _export(svc: Services, env: dict[str, str], data_dir: Path) -> dict:
    task = svc.exports.submit(Actor.cli(), PARAMS, limits=False)
    log = data_dir.parent / "export-worker.log"
    started, cpu = time.perf_counter(), _children_cpu()
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "server", "worker", "--burst"], env=env, cwd=ROOT,
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        sampler = TreeMemorySampler(worker.pid, timeline_every=2.0).start()
        code = worker.wait()
        memory = sampler.stop()
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu  # the worker and its work horse
    done = svc.exports.get(Actor.cli(), task.id)
    if code != 0 or done.status != "finished":
        raise RuntimeError(f"export worker exit {code}, task {done.status}: {log.read_text()[-1500:]}")
    job = (parse_time(done.finished_at) - parse_time(done.started_at)).total_seconds()
    path = Path(svc.config.data_dir) / "exports" / done.file
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    assert digest.hexdigest() == done.sha256
    path.unlink()
    job_cpu = done.cpu_seconds  # the run's own CPU (both its threads), without the worker's start
    return {"messages": done.total, "bytes": done.bytes_in, "zip_bytes": done.size, "job_seconds": round(job, 2),
            "worker_wall_seconds": round(wall, 2), "mb_per_s": round(done.bytes_in / MB / job, 1),
            "mb_per_s_worker_wall": round(done.bytes_in / MB / wall, 1), "worker_cpu_seconds": round(cpu, 2),
            "mb_per_worker_cpu_s": round(done.bytes_in / MB / cpu, 1) if cpu else None, "job_cpu_seconds": job_cpu,
            "mb_per_job_cpu_s": round(done.bytes_in / MB / job_cpu, 1) if job_cpu else None, **memory}  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _zip_libraries(svc: Services, criteria) -> dict:  # noqa: ANN001
    """The project's writer against zipstream-ng on the same blobs (read once into memory first)."""
    from server.export.zipstream import iter_zip

    blobs: list[tuple[Message, bytes]] = []
    for message in svc.store.scan(criteria):
        blobs.append((message, svc.store.get_raw(message.sha256)))
        if len(blobs) >= ZIP_COMPARE:
            break
    raws = {m.id: raw for m, raw in blobs}
    total = sum(len(r) for r in raws.values())
    results: dict = {"entries": len(blobs), "bytes": total}

    def own(compress: bool) -> Iterator[bytes]:
        return iter_zip((m for m, _ in blobs), lambda m: raws[m.id], compress=compress, verified=True)

    runners: dict[str, Callable[[bool], Iterator[bytes]]] = {"project zipstream": own}
    try:
        import zipstream  # zipstream-ng

        def ng(compress: bool) -> Iterator[bytes]:
            stream = zipstream.ZipStream(compress_type=zipstream.ZIP_DEFLATED if compress else zipstream.ZIP_STORED,
                                         compress_level=1)  # fmt: skip
            for i, (m, _) in enumerate(blobs):
                stream.add(raws[m.id], f"{i:06d}_{m.id}.eml")
            return iter(stream)

        runners["zipstream-ng"] = ng
    except ImportError:
        results["zipstream-ng"] = "not installed (pip install zipstream-ng)"
    for name, runner in runners.items():
        for compress in (False, True):
            results[f"{name} {'deflate-1' if compress else 'stored'}"] = _measure(runner, compress, total)
    return results


def _measure(runner: Callable[[bool], Iterator[bytes]], compress: bool, total: int) -> dict:
    started = time.perf_counter()
    out = sum(len(chunk) for chunk in runner(compress))
    elapsed = time.perf_counter() - started
    tracemalloc.start()  # a second pass for memory: tracing slows Python code several times
    for _ in runner(compress):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"mb_per_s": round(total / MB / elapsed, 1), "zip_mb": round(out / MB, 1),
            "peak_traced_mb_beyond_input": round(peak / 2**20, 1)}
