"""``mailarchive search`` end to end, as a script runs it: interpreter start-up, imports, the query,
the audit entry, the output (issue #18 item 4: median ≤ 100 ms on an idle machine).

The yardstick is ``python -c pass`` with the same interpreter and environment, timed in the same
run, interleaved with the searches (so both see the same load): what any Python command costs
before it does anything. Each run's CPU time (user + system, from the reaped child's rusage) is
recorded next to its wall time, since on a shared machine wall time is mostly waiting.

One more run with ``python -X importtime`` shows where the start-up goes: the modules with the
largest cumulative import time at the top level, the largest self times, and any module of the
chains a search must not load (Flask, the importer, the MIME parser, password hashing).

Bytecode is compiled first and ``PYTHONDONTWRITEBYTECODE`` is dropped from the children's
environment: an installed package has its ``.pyc`` files, so compiling sources on every run
would measure something no user sees.
"""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.importrun import mailarchive_command

ROOT = Path(__file__).resolve().parents[1]
RUNS = 15
MUST_NOT_LOAD = ("flask", "werkzeug", "jinja2", "argon2", "eml_parser", "dateutil", "server.web", "server.indexing",
                 "server.mailview", "server.cli.serve", "server.cli.imports", "server.services.ingest", "tomllib",
                 "zoneinfo", "server.export", "shutil", "tempfile", "bz2", "lzma", "server.users", "secrets",
                 "logging", "orjson", "uuid", "random", "unicodedata")  # fmt: skip


def search_argv(keyword: str = "contract") -> list[str]:
    """A typical query of a script: one keyword over one month of the bench corpus, one page."""
    return ["search", "--from", "2025-03-01", "--to", "2025-03-31", "--keyword", keyword, "--limit", "20"]


def _child_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, int]:
    """(wall ms, CPU ms, exit code) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:4])}... exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return wall, cpu, done.returncode


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(ordered), "median": round(statistics.median(ordered), 1), "min": round(ordered[0], 1),
            "p90": round(ordered[min(int(0.9 * len(ordered)), len(ordered) - 1)], 1), "max": round(ordered[-1], 1)}  # fmt: skip


def entry_point() -> list[str]:
    """The installed ``mailarchive`` script beside the interpreter, else ``python -m server``."""
    script = Path(sys.executable).with_name("mailarchive")
    return [str(script)] if script.exists() else mailarchive_command()


def cli_latency(env: dict[str, str], runs: int = RUNS, argv: list[str] | None = None) -> dict:
    """Median wall and CPU time of ``mailarchive search`` and of ``python -c pass``, interleaved."""
    compileall.compile_dir(str(ROOT / "server"), quiet=1)
    env = _child_env(env)
    search = [*entry_point(), *(argv or search_argv())]
    yardstick = [sys.executable, "-c", "pass"]
    _timed(search, env)  # warm the page cache and any bytecode not yet written
    samples: dict[str, dict[str, list[float]]] = {"search": {"wall": [], "cpu": []}, "python": {"wall": [], "cpu": []}}
    for _ in range(runs):
        for name, command in (("search", search), ("python", yardstick)):
            wall, cpu, _code = _timed(command, env)
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
    out = {name: {kind: _summary(values) for kind, values in figures.items()} for name, figures in samples.items()}
    return {
        "command": " ".join(["mailarchive", *search[len(entry_point()):]]),
        **out,
        "wall_ratio": round(out["search"]["wall"]["median"] / out["python"]["wall"]["median"], 2),
        "cpu_ratio": round(out["search"]["cpu"]["median"] / max(out["python"]["cpu"]["median"], 0.1), 2),
        "over_python_wall_ms": round(out["search"]["wall"]["median"] - out["python"]["wall"]["median"], 1),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "importtime": import_profile(search, env),
    }


def import_profile(search: list[str], env: dict[str, str], top: int = 15) -> dict:
    """One run under ``-X importtime``: total, top-level and self-time leaders, forbidden modules."""
    rest = search[1:] if search[0] == sys.executable else search  # ``-m server ...`` or the script's path
    command = [sys.executable, "-X", "importtime", *rest]
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    rows = parse_importtime(done.stderr)
    top_level = [r for r in rows if r["depth"] == 0]
    return {
        "total_ms": round(sum(r["cumulative_us"] for r in top_level) / 1000, 1),
        "modules": len(rows),
        "top_cumulative": [_row(r) for r in sorted(top_level, key=lambda r: -r["cumulative_us"])[:top]],
        "top_self": [_row(r) for r in sorted(rows, key=lambda r: -r["self_us"])[:top]],
        "forbidden_loaded": sorted(r["module"] for r in rows if r["module"].startswith(MUST_NOT_LOAD)),
    }


def _row(row: dict) -> dict:
    return {"module": row["module"], "cumulative_ms": round(row["cumulative_us"] / 1000, 2),
            "self_ms": round(row["self_us"] / 1000, 2)}  # fmt: skip


def parse_importtime(text: str) -> list[dict]:
    """Rows of ``-X importtime`` output: module, self and cumulative µs, nesting depth."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append({"module": name.strip(), "self_us": int(self_us), "cumulative_us": int(cumulative_us), "depth": depth})
    return rows
