"""The bare parse+hash loops: parsing the corpus bytes on every core, nothing else.

The stdlib loop (``policy=default``, text parts decoded, SHA-256) is issue 18's yardstick: the
import should reach 0.8x its rate. The eml-parser loop is the yardstick DESIGN.md §10 names (the import should reach at least half of
it), with the ingestion pipeline's own eml-parser configuration. The pipeline loop runs the
pipeline's ``parse`` instead, i.e. the import's per-message parsing cost with storing left out.
Each worker process reads its share of the same files the import reads: like for like.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.importrun import cpu_figures
from server.synthetic import iter_raw


def _eml_parser():
    try:
        from server.indexing.tree import eml_parser_instance
    except ImportError:  # before the pipeline existed: the same settings it uses
        import eml_parser

        return eml_parser.EmlParser(include_raw_body=False, include_attachment_data=False, parse_attachments=False)
    return eml_parser_instance()


def stdlib_parse(raw: bytes) -> int:
    """The plainest full parse the standard library offers: the tree with ``policy=default``
    (structured headers) and every text part decoded to str. Returns the characters decoded."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    decoded = 0
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            try:
                decoded += len(part.get_content())
            except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
                decoded += len(part.get_payload(decode=True) or b"")
    return decoded


def _parse_function(kind: str):
    """``eml-parser``: its full decode (the yardstick DESIGN.md §10 names); ``pipeline``: the
    ingestion pipeline's own ``parse`` (what the import does per message before storing);
    ``stdlib``: ``stdlib_parse`` (the yardstick of issue 18: what any Python archiver must do)."""
    if kind == "pipeline":
        from server.indexing.parse import parse

        return parse
    if kind == "stdlib":
        return stdlib_parse
    return _eml_parser().decode_email_bytes


def _worker(kind: str, paths: list[str], share: int, shares: int, limit: int) -> tuple[int, int, int, float]:
    """Parse every ``shares``-th of the first ``limit`` messages from ``share`` on; (ok, failed, bytes, cpu s)."""
    parse = _parse_function(kind)
    ok = failed = size = 0
    started = time.process_time()
    index = 0
    for path in paths:
        for raw in iter_raw(Path(path)):
            if limit and index >= limit:
                break
            if index % shares == share:
                hashlib.sha256(raw).digest()
                try:
                    parse(raw)
                    ok += 1
                except Exception:  # noqa: BLE001 - counted, as the pipeline would archive it anyway
                    failed += 1
                size += len(raw)
            index += 1
    return ok, failed, size, time.process_time() - started


def bare_parse_loop(paths: list[Path], kind: str = "eml-parser", workers: int | None = None,
                    limit: int = 0) -> dict[str, float]:
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(_worker, kind, [str(p) for p in paths], k, workers, limit) for k in range(workers)]
        results = [f.result() for f in futures]
    seconds = time.perf_counter() - started
    ok, failed, size = (sum(r[i] for r in results) for i in range(3))
    count = ok + failed
    return {
        "parser": kind,
        "messages": count,
        "failed": failed,
        "bytes": size,
        "workers": workers,
        "seconds": round(seconds, 3),
        **cpu_figures(sum(r[3] for r in results), count),
        "msg_per_s": round(count / seconds, 1),
        "mb_per_s": round(size / seconds / 1e6, 2),
    }
