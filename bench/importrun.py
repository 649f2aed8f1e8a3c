"""A real ``mailarchive import`` of the corpus into a fresh data dir, timed, with memory sampled."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.rss import TreeMemorySampler
from server.synthetic.words import INTERNAL_DOMAINS

ROOT = Path(__file__).resolve().parents[1]


def bench_env(data_dir: Path, store: str) -> dict[str, str]:
    """The environment every command of a run gets: its own data dir and store, no config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")}
    env.update({
        "MAILARCHIVE_DATA_DIR": str(data_dir),
        "MAILARCHIVE_STORE": store,
        "MAILARCHIVE_INTERNAL_DOMAINS": ",".join(INTERNAL_DOMAINS),
        "MAILARCHIVE_CONFIG": "none",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    })
    return env


COMMAND = [sys.executable, "-m", "server"]


def mailarchive_command() -> list[str]:
    return list(COMMAND)


# The bench directory (seed 1), loaded by the tree under test: a tree with an older schema would
# refuse a file this checkout's store had created (and migrated).
_LOAD_DIRECTORY = ("from server.config import load_config; from server.store import open_store; "
                   "from server.synthetic import build_directory; store = open_store(load_config()); "
                   "store.upsert_accounts(build_directory(1).as_accounts()); store.close()")  # fmt: skip


def load_directory(tree: Path, env: dict[str, str]) -> None:
    """A fresh data dir's directory, written with ``tree``'s code (A/B runs of two trees)."""
    subprocess.run([sys.executable, "-c", _LOAD_DIRECTORY], env=env, cwd=tree, check=True)


def fresh_data_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _last_json(text: str) -> dict:
    """The import's ``--json`` summary: the last line of stdout that parses as a JSON object."""
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def run_import(paths: list[Path], env: dict[str, str], total_bytes: int, log: Path) -> dict:
    """Run the import as an operator would; wall time includes interpreter start-up."""
    command = [*mailarchive_command(), "import", *map(str, paths), "--json"]
    log.with_suffix(".progress.jsonl").unlink(missing_ok=True)
    load_before = round(os.getloadavg()[0], 2)
    cpu_before = _children_cpu()
    blocks_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        sampler = TreeMemorySampler(proc.pid, progress=log.with_suffix(".progress.jsonl")).start()
        out, _ = proc.communicate()
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    written = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - blocks_before) * 512
    memory = sampler.stop()
    summary = _last_json(out)
    processed = _processed(summary)
    ok = proc.returncode == 0 and seconds > 0
    return {
        "command": "mailarchive import <corpus files> --json",
        "exit_code": proc.returncode,
        "seconds": round(seconds, 3),
        "messages": processed,
        "load_avg_1m_after": round(os.getloadavg()[0], 2),  # >2 on this 2-core machine: others were busy too
        "bytes": total_bytes,
        "msg_per_s": round(processed / seconds, 1) if ok else 0.0,
        "mb_per_s": round(total_bytes / seconds / 1e6, 2) if ok else 0.0,
        **memory,
        # write_bytes of the tree from /proc/PID/io, exact at exit (the kernel adds a reaped
        # child's I/O counters to its parent's rusage in 512-byte blocks; the sampled /proc
        # figure misses what was written after the last sample)
        "write_bytes": max(written, memory.get("sampled_write_bytes", 0)),
        "load_avg_1m_before": load_before,
        **cpu_figures(cpu, processed),
        **_serial_bound(memory.get("root_process_cpu_seconds", 0.0), processed),
        "summary": summary,
        "stderr_tail": log.read_text(errors="replace")[-1500:] if proc.returncode else "",
    }


def _children_cpu() -> float:
    """CPU seconds of every finished child and its reaped descendants (the import's parser pool)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_figures(cpu_seconds: float, messages: int) -> dict:
    """CPU cost per message and the rate it allows with every core free: on a shared machine the
    wall-clock rate depends on the neighbours' load, the CPU cost does not."""
    per_msg = cpu_seconds / messages if messages else 0.0
    cores = os.cpu_count() or 1
    return {
        "cpu_seconds": round(cpu_seconds, 2),
        "cpu_ms_per_msg": round(per_msg * 1000, 3),
        "cpu_bound_msg_per_s": round(cores / per_msg, 1) if per_msg else 0.0,
    }


def _serial_bound(root_cpu: float, messages: int) -> dict:
    """The importer's own process reads, enriches and stores while its pool parses: it can use
    one core at most, so its CPU per message caps the rate however many cores are free."""
    if not root_cpu or not messages:
        return {}
    per_msg = root_cpu / messages
    return {"main_process_cpu_ms_per_msg": round(per_msg * 1000, 3), "main_process_bound_msg_per_s": round(1 / per_msg, 1)}


def _processed(summary: dict) -> int:
    """Raw messages the import read, whatever it then did with each (archived, merged, duplicate...)."""
    if "read" in summary:
        return int(summary["read"])
    keys = ("archived", "merged", "duplicates", "skipped_by_rule", "failed")
    return sum(int(summary.get(k) or 0) for k in keys)
