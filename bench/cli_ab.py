"""Before / after for ``mailarchive search`` start-up (issue #18 item 4): two code trees on the same
archive, interleaved runs (CPU and wall medians), and one valgrind callgrind run of each.

    git archive main | tar -x -C /tmp/before
    MAILARCHIVE_DATA_DIR=... python -m bench.cli_ab --before /tmp/before --runs 11 --out bench/results/cli-ab-NAME.json

Each tree runs as ``python -m server search ...`` from its own directory (so its ``server`` package is
the one imported), with the same interpreter and environment. On a shared machine wall time is mostly
the neighbours' load: the callgrind count (user-space instructions of one run) does not depend on it,
and the CPU medians depend on it less than wall time. The load is recorded beside the times.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.cli_bench import _child_env, _summary, _timed, parse_importtime, search_argv

ROOT = Path(__file__).resolve().parents[1]


def _command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "server", *argv]


def instructions(tree: Path, argv: list[str], env: dict[str, str]) -> int | None:
    """User-space instructions of one run under callgrind (None when valgrind is not installed)."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", *_command(argv)],
                              cwd=tree, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found else None


def modules(tree: Path, argv: list[str], env: dict[str, str]) -> list[str]:
    """The modules one run imports (``-X importtime``), in import order."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "server", *argv], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return [row["module"] for row in parse_importtime(done.stderr)]


def compare(trees: dict[str, Path], argv: list[str], runs: int) -> dict:
    env = _child_env(dict(os.environ))
    for tree in trees.values():
        compileall.compile_dir(str(tree / "server"), quiet=1)
        _timed(_command(argv), env, cwd=tree)  # warm the page cache
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in trees}
    for _ in range(runs):
        for name, tree in trees.items():
            wall, cpu, _code = _timed(_command(argv), env, cwd=tree)
            samples[name]["wall"].append(round(wall, 1))
            samples[name]["cpu"].append(round(cpu, 1))
    out: dict = {"command": " ".join(["python -m server", *argv]), "runs": runs,
                 "load_before_after": [os.getloadavg()[0]]}  # fmt: skip
    for name, tree in trees.items():
        loaded = modules(tree, argv, env)
        out[name] = {"tree": str(tree), "instructions": instructions(tree, argv, env),
                     "cpu_ms": _summary(samples[name]["cpu"]), "wall_ms": _summary(samples[name]["wall"]),
                     "cpu_samples": samples[name]["cpu"], "wall_samples": samples[name]["wall"],
                     "modules": len(loaded), "dataclasses_loaded": "dataclasses" in loaded,
                     "zstandard_loaded": "zstandard" in loaded, "typing_loaded": "typing" in loaded}  # fmt: skip
    out["load_before_after"].append(os.getloadavg()[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the tree to compare with (e.g. main, unpacked)")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this tree")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--out", type=Path, help="write the results here (JSON)")
    parser.add_argument("search", nargs="*", help="the search's arguments (default: bench.cli_bench.search_argv)")
    args = parser.parse_args()
    result = compare({"before": args.before.resolve(), "after": args.after.resolve()}, args.search or search_argv(),
                     args.runs)  # fmt: skip
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
