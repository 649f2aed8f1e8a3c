"""Which tables an import's commits rewrite: every WAL frame of a real import, by table.

    python bench/wal_pages.py [--checkpoint-pages 10000] MAILFILE...

Runs one ``python -m server import FILES`` into a fresh SQLite data dir while this process holds
a read transaction opened before the import's first write. A reader on the pre-import snapshot
keeps every checkpoint from copying anything, so the WAL keeps every frame the import wrote: it
is then read frame by frame (page number, commit marks). After the reader lets go, the database
is checkpointed and ``dbstat`` maps each page to its table or index, giving per table the frames
written (the WAL's share of the disk writes), the distinct pages, and the pages in the final file.
The checkpoints' share is simulated from the same frames: every ``--checkpoint-pages`` frames (at
a commit) each distinct page written since the last checkpoint is copied once into the database.
Why: write amplification is WAL frames + checkpointed pages against the final size, and this says
which structure each of them belongs to, which the kernel's byte counter cannot.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import struct
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:1] = [str(Path(__file__).resolve().parents[1])]

from bench.importrun import bench_env, fresh_data_dir, load_directory
from bench.options import RESULTS

WAL_HEADER = 32
FRAME_HEADER = 24


def wal_frames(path: Path) -> tuple[int, list[tuple[int, bool]], Counter]:
    """(page size, [(page number, is the last frame of a commit)], pages written as all zeros
    and how often) of a WAL file, in order. A page of zeros is a freed page overwritten by
    ``secure_delete``: a write that stores nothing."""
    zeros: Counter = Counter()
    with path.open("rb") as wal:
        header = wal.read(WAL_HEADER)
        page_size = struct.unpack(">I", header[8:12])[0]
        salts = header[16:24]
        frames = []
        blank = bytes(page_size)
        while len(head := wal.read(FRAME_HEADER)) == FRAME_HEADER:
            page, commit_size = struct.unpack(">II", head[:8])
            if head[8:16] != salts:  # a frame left from before a WAL reset: the log ends here
                break
            frames.append((page, commit_size != 0))
            if wal.read(page_size) == blank:
                zeros[page] += 1
    return page_size, frames, zeros


def simulate_checkpoints(frames: list[tuple[int, bool]], every: int) -> tuple[int, int]:
    """(checkpoints, pages copied): a checkpoint at the first commit after ``every`` frames."""
    copied = checkpoints = 0
    window: set[int] = set()
    count = 0
    for page, commit in frames:
        window.add(page)
        count += 1
        if commit and count >= every:
            copied, checkpoints, window, count = copied + len(window), checkpoints + 1, set(), 0
    return checkpoints + bool(window), copied + len(window)


def merge_commits(frames: list[tuple[int, bool]], group: int) -> list[tuple[int, bool]]:
    """The frames had every ``group`` consecutive commits been one: each page once per group.
    (A model: page splits would fall a little differently in the larger transaction.)"""
    merged: list[tuple[int, bool]] = []
    pages: dict[int, None] = {}
    commits = 0
    for page, commit in frames:
        pages[page] = None
        if commit:
            commits += 1
            if commits % group == 0:
                merged += [(p, False) for p in pages]
                merged[-1] = (merged[-1][0], True)
                pages = {}
    if pages:
        merged += [(p, False) for p in pages]
        merged[-1] = (merged[-1][0], True)
    return merged


def models(frames: list[tuple[int, bool]], db_pages: int) -> list[dict]:
    """Written ÷ database for commits merged by 1-20 and checkpoints every 10k-250k frames."""
    out = []
    for group in (1, 2, 4, 10, 20):
        merged = merge_commits(frames, group)
        for every in (1_000, 10_000, 50_000, 250_000, 500_000, 1_000_000):
            checkpoints, copied = simulate_checkpoints(merged, every)
            out.append({"commits_merged": group, "checkpoint_every_frames": every, "wal_frames": len(merged),
                        "checkpointed_pages": copied,
                        "written_vs_database": round((len(merged) + copied) / db_pages, 2)})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "work")
    parser.add_argument("--checkpoint-pages", type=int, default=10_000)
    parser.add_argument("--name", default="wal-pages")
    args = parser.parse_args(argv)
    data = fresh_data_dir(args.work / "wal-pages")
    env = {**bench_env(data, "sqlite"), "PYTHONPATH": str(args.tree.resolve())}
    load_directory(args.tree, env)
    db = data / "archive.sqlite3"
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM settings").fetchone()  # holds the pre-import snapshot
    files = [str(Path(f).resolve()) for f in args.files]
    proc = subprocess.run([sys.executable, "-m", "server", "import", *files, "--json"], env=env, cwd=args.tree,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"import exited {proc.returncode}: {proc.stderr[-500:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    page_size, frames, zeros = wal_frames(Path(f"{db}-wal"))
    reader.execute("COMMIT")
    reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    owner = dict(reader.execute("SELECT pageno, name FROM dbstat"))
    final = Counter(owner.values())
    per_table = Counter(owner.get(page, "(free or overflow)") for page, _ in frames)
    distinct = Counter(owner.get(page, "(free or overflow)") for page in {p for p, _ in frames})
    zeroed = Counter()
    for page, n in zeros.items():
        zeroed[owner.get(page, "(free or overflow)")] += n
    commits = sum(c for _, c in frames)
    reader.close()
    checkpoints, copied = simulate_checkpoints(frames, args.checkpoint_pages)
    db_pages = sum(final.values())
    tables = [{"name": name, "wal_frames": n, "frames_per_commit": round(n / commits, 1),
               "distinct_pages": distinct[name], "final_pages": final.get(name, 0), "zero_frames": zeroed[name],
               "frames_vs_final": round(n / max(final.get(name, 0), 1), 2)}
              for name, n in per_table.most_common()]  # fmt: skip
    result = {
        "name": args.name, "files": files, "tree": str(args.tree), "summary": summary, "page_size": page_size,
        "commits": commits, "wal_frames": len(frames), "zero_frames": sum(zeros.values()), "database_pages": db_pages,
        "checkpoint_every_frames": args.checkpoint_pages, "checkpoints": checkpoints, "checkpointed_pages": copied,
        "modelled_written_vs_database": round((len(frames) + copied) / db_pages, 2), "tables": tables,
        "models": models(frames, db_pages),
    }
    for row in result["models"]:
        print(f"merge {row['commits_merged']:3} checkpoint every {row['checkpoint_every_frames']:7,}: WAL "
              f"{row['wal_frames']:9,} checkpoints {row['checkpointed_pages']:9,} -> {row['written_vs_database']}x")  # fmt: skip
    for row in tables[:14]:
        print(f"{row['name']:32} frames {row['wal_frames']:9,} /commit {row['frames_per_commit']:8} "
              f"distinct {row['distinct_pages']:8,} final {row['final_pages']:8,} x{row['frames_vs_final']} "
              f"zeros {row['zero_frames']:,}")  # fmt: skip
    print(f"{commits} commits, {len(frames):,} frames ({sum(zeros.values()):,} of zeros), {db_pages:,} pages; checkpoints {checkpoints} copy "
          f"{copied:,} pages; modelled written/database {result['modelled_written_vs_database']}x")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{args.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
