"""Corpora for the benchmark, generated once and cached under bench/work (git-ignored)."""

from __future__ import annotations

import time
from pathlib import Path

from server.synthetic import CorpusInfo, generate_corpus, load_corpus


def cached_corpus(work: Path, size: int, seed: int, fmt: str) -> tuple[Path, CorpusInfo, float | None]:
    """(corpus dir, manifest, seconds spent generating or None when reused)."""
    root = work / f"corpus-{size}-s{seed}-{fmt}"
    info = load_corpus(root, size, seed=seed, fmt=fmt)
    if info is not None:
        return root, info, None
    started = time.perf_counter()
    info = generate_corpus(root, size, seed=seed, fmt=fmt, progress=size >= 100_000)
    return root, info, round(time.perf_counter() - started, 2)


def describe(info: CorpusInfo, generated_in: float | None) -> dict:
    return {
        "messages": info.count,
        "bytes": info.bytes,
        "mean_size": round(info.bytes / max(info.count, 1)),
        "sizes": info.sizes,
        "format": info.format,
        "seed": info.seed,
        "files": len(info.files),
        "generator_version": info.version,
        "generated_seconds": generated_in,
    }
