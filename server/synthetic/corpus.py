"""Write a synthetic corpus to disk as mbox files or a Maildir, in parallel, streaming.

The corpus is cut into chunks of ``CHUNK`` messages; chunk *k* is generated from (seed, k)
alone, so chunks can be produced by several processes and any chunk regenerated identically.
Nothing but the current message is held in memory. A ``manifest.json`` records what was made,
so callers can reuse a corpus generated earlier (the benchmark caches under ``bench/work``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from server.synthetic.directory import build_directory, write_directory
from server.synthetic.messages import MailGenerator

GENERATOR_VERSION = 1  # bump when the output changes, so cached corpora are regenerated
CHUNK = 10_000
FORMATS = ("mbox", "maildir")


@dataclass
class CorpusInfo:
    count: int
    seed: int
    format: str
    version: int = GENERATOR_VERSION
    bytes: int = 0
    files: list[str] = field(default_factory=list)  # relative to the corpus dir
    directory_file: str = "directory.csv"
    sizes: dict[str, int] = field(default_factory=dict)  # size percentiles in bytes

    def paths(self, root: Path) -> list[Path]:
        return [root / name for name in self.files]


# Every message gets the same From_ line: the archive dates mail by its Date header, and journal
# copies carry their recipient in the trace headers, not in the mbox envelope.
_FROM_LINE = b"From MAILER-DAEMON Thu Jan  1 00:00:00 2025\n"


def _write_chunk(root: str, fmt: str, seed: int, chunk: int, total: int) -> tuple[str, int, list[int]]:
    """Generate chunk ``chunk`` into one mbox file or a Maildir ``new`` folder of its own."""
    first = chunk * CHUNK
    count = min(CHUNK, total - first)
    gen = MailGenerator(build_directory(seed), seed=seed, stream=chunk, first=first, count=count, total=total)
    sizes: list[int] = []
    if fmt == "mbox":
        name = f"mail-{chunk:05d}.mbox"
        with open(os.path.join(root, name), "wb", buffering=1 << 20) as fh:
            for raw in gen:
                fh.write(_FROM_LINE + raw + b"\n")
                sizes.append(len(raw))
    else:
        name = f"maildir-{chunk:05d}"
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(root, name, sub), exist_ok=True)
        for i, raw in enumerate(gen):
            with open(os.path.join(root, name, "new", f"{first + i:09d}.synthetic"), "wb") as fh:
                fh.write(raw)
            sizes.append(len(raw))
    return name, sum(sizes), sizes[:: max(len(sizes) // 500, 1)]


def _percentiles(samples: list[int]) -> dict[str, int]:
    samples = sorted(samples)
    if not samples:
        return {}
    pick = lambda q: samples[min(int(q * len(samples)), len(samples) - 1)]  # noqa: E731
    return {"p10": pick(0.1), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": samples[-1]}


def generate_corpus(root: Path, count: int, *, seed: int = 1, fmt: str = "mbox", workers: int | None = None,
                    progress: bool = False) -> CorpusInfo:
    """Generate ``count`` messages under ``root`` (created) and return what was written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    root.mkdir(parents=True, exist_ok=True)
    write_directory(build_directory(seed), root / "directory.csv")
    info = CorpusInfo(count=count, seed=seed, format=fmt)
    chunks = range((count + CHUNK - 1) // CHUNK)
    samples: list[int] = []
    workers = min(workers or os.cpu_count() or 1, len(chunks)) or 1
    with ProcessPoolExecutor(workers) as pool:
        jobs = pool.map(_write_chunk, *zip(*[(str(root), fmt, seed, k, count) for k in chunks], strict=True))
        for name, size, sample in jobs:
            info.files.append(name)
            info.bytes += size
            samples.extend(sample)
            if progress:
                print(f"  generated {len(info.files) * CHUNK:>9,} / {count:,}", flush=True)
    info.sizes = _percentiles(samples)
    (root / "manifest.json").write_text(json.dumps(asdict(info), indent=1))
    return info


def load_corpus(root: Path, count: int, *, seed: int = 1, fmt: str = "mbox") -> CorpusInfo | None:
    """The manifest of a corpus already generated with these parameters, else None."""
    try:
        info = CorpusInfo(**json.loads((root / "manifest.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None
    same = (info.count, info.seed, info.format, info.version) == (count, seed, fmt, GENERATOR_VERSION)
    return info if same and all(p.exists() for p in info.paths(root)) else None


def iter_raw(path: Path) -> Iterator[bytes]:
    """The raw messages of one generated mbox file or Maildir, as the generator wrote them."""
    if path.is_dir():
        for entry in sorted((path / "new").iterdir()):
            yield entry.read_bytes()
        return
    with path.open("rb") as fh:
        current: list[bytes] = []
        for line in fh:
            if line.startswith(b"From ") and (not current or current[-1] == b"\n"):
                if current:
                    yield b"".join(current[:-1])  # drop the separator blank line
                current = []
                continue
            current.append(line)
        if current:
            yield b"".join(current[:-1] if current[-1] == b"\n" else current)
